// Every public header compiles on its own: CMake generates one translation unit per include/eagle/*.h
// (tests/CMakeLists.txt) and links them into this program, which only has to start.
int main() { return 0; }
