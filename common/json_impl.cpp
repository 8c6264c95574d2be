// The one translation unit that compiles Boost.JSON (header-only mode, Boost
// 1.81): every other file includes <boost/json.hpp> only. In rp_common, so
// every binary that parses JSON (app/, oauth/, their tests) links it once.
#include <boost/json/src.hpp>
