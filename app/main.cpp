// relaypool's main(): parses the command line and runs one command (see
// app/cli.hpp). Exceptions here are bugs; they end the process with exit
// code 1 after one line on stderr.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.hpp"

int main(int argc, char** argv) {
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        auto parsed = rp::app::parse_args(args);
        if (!parsed.options) {
            std::cerr << "relaypool: " << parsed.error << "\n";
            rp::app::print_usage(std::cerr);
            return rp::app::exit_usage;
        }
        return rp::app::run(*parsed.options);
    } catch (const std::exception& e) {
        std::cerr << "relaypool: internal error: " << e.what() << "\n";
        return rp::app::exit_failure;
    }
}
