// berth_probe: runs inside a container and prints facts as JSON (placeholder until filled in).
#include <cstdio>
int main() { std::puts("{}"); return 0; }
