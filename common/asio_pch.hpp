// Precompiled header for the targets that use Asio, Beast and OpenSSL.
// Only CMake includes this (target_precompile_headers); never include it by hand.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
