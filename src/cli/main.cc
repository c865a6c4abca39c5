// berth: entry point. Dispatches on argv[0] (berth, vzctl, vzlist, vzubc, vzmigrate).
#include "cli/cli.h"

int main(int argc, char** argv) { return berth::cli::main(argc, argv); }
