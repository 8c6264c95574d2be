// The one translation unit that compiles Boost.JSON (header-only mode, Boost
// 1.81): every other file includes <boost/json.hpp> only. Used by the
// relaypool executable and tests/app (which compile this file too).
#include <boost/json/src.hpp>
