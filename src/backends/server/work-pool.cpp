// The parallel work queue of the server engines (contract in work-pool.h).
#include "work-pool.h"

#include "server-api.h"

#include "eagle/log.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace eagle::server_backend {

void down_servers::mark(const std::string & url) const {
    std::lock_guard<std::mutex> lock(mutex_);
    urls_.insert(url);
}

bool down_servers::contains(const std::string & url) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return urls_.count(url) > 0;
}

server_pool model_pool(const down_servers & down, const std::string & kind, std::atomic<int64_t> & n_dropped) {
    return {kind, [&down](const std::string & url) { return down.contains(url); },
            [&down, &n_dropped](const std::string & url, const std::string & why) {
                if (!down.contains(url)) {
                    down.mark(url);
                    ++n_dropped;
                    log(log_level::warn, why + "; dropped, the other servers take its work\n");
                }
            }};
}

void run_on_servers(size_t n_tasks, const std::vector<pool_worker> & workers, const server_pool & pool,
                    const std::function<void(size_t task, const pool_worker & worker)> & run) {
    std::mutex m;
    std::condition_variable cv;
    std::deque<size_t> queue;
    for (size_t i = 0; i < n_tasks; ++i) {
        queue.push_back(i);
    }
    size_t n_in_flight = 0;
    bool abort = false;
    std::exception_ptr failure;
    std::string last_down;
    auto worker = [&](const pool_worker & w) {
        for (;;) {
            size_t task = 0;
            {
                std::unique_lock<std::mutex> lock(m);
                // an idle worker waits while others are in flight: their tasks come back if their server dies
                cv.wait(lock, [&] { return abort || pool.is_down(w.url) || !queue.empty() || n_in_flight == 0; });
                if (abort || pool.is_down(w.url) || queue.empty()) {
                    return;
                }
                task = queue.front();
                queue.pop_front();
                ++n_in_flight;
            }
            try {
                run(task, w);
                std::lock_guard<std::mutex> lock(m);
                --n_in_flight;
                cv.notify_all();
            } catch (const server_down & down) {
                std::lock_guard<std::mutex> lock(m);
                queue.push_front(task);
                --n_in_flight;
                last_down = down.what();
                if (!pool.is_down(w.url)) {
                    pool.drop(w.url, down.what());
                }
                cv.notify_all();
                return;
            } catch (...) {
                std::lock_guard<std::mutex> lock(m);
                --n_in_flight;
                abort = true;
                if (!failure) {
                    failure = std::current_exception();
                }
                cv.notify_all();
                return;
            }
        }
    };
    std::vector<std::thread> threads;
    for (const pool_worker & w : workers) {
        if (!pool.is_down(w.url)) {
            threads.emplace_back(worker, std::cref(w));
        }
    }
    for (std::thread & t : threads) {
        t.join();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
    if (!queue.empty()) {
        throw error(errc::io, "every " + pool.kind + " stopped answering" +
                                  (last_down.empty() ? std::string() : " (last: " + last_down + ")"));
    }
}

} // namespace eagle::server_backend
