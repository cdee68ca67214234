// !!! Internal header, for the engines that score over HTTP servers (src/backends/server, src/backends/openai) !!!
// The parallel work queue every server engine scores with: tasks 0..n-1 taken by workers (one per connection,
// several per server); a server that stops answering (server_down) is dropped with a warning and its task goes
// back to the queue for the others; any other error stops every worker and is rethrown. Nothing is lost unless
// every server stops: then errc::io.
#pragma once

#include "http-client.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace eagle::server_backend {

struct pool_worker {
    std::string url;      // its server
    http_client * client; // its own connection (kept alive between its tasks)
};

struct server_pool {
    std::string kind;                                                    // "llama-server", ... (in messages)
    std::function<bool(const std::string & url)> is_down;                // a server dropped before or meanwhile
    std::function<void(const std::string & url, const std::string & why)> drop; // called once per server, under the pool's lock
};

// The servers of a model that stopped answering: no session of the model uses them again.
class down_servers {
public:
    void mark(const std::string & url) const;
    bool contains(const std::string & url) const;

private:
    mutable std::mutex mutex_;
    mutable std::set<std::string> urls_;
};

// The pool of a session on a model's servers: a server that stops answering is marked down in the model,
// counted in n_dropped and logged (a warning).
server_pool model_pool(const down_servers & down, const std::string & kind, std::atomic<int64_t> & n_dropped);

// Runs run(task, worker) for every task on the workers and returns when all are done. run is called
// concurrently from the workers' threads; it must write its own task's results only (tasks are retried whole
// on another server after server_down, so a task writes its results once it has them all).
void run_on_servers(size_t n_tasks, const std::vector<pool_worker> & workers, const server_pool & pool,
                    const std::function<void(size_t task, const pool_worker & worker)> & run);

} // namespace eagle::server_backend
