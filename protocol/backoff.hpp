// Retry delays for deferred messages: exponential backoff from
// queue.retry_initial to queue.retry_max with jitter (SPEC.md "other 4xx:
// deferred with exponential backoff").
//
// Invariants: pure and deterministic: the caller supplies the random number,
// so tables can test it. The result is always within [initial, max] (when
// initial <= max); without jitter (jitter_unit = 0.5) it is exactly
// min(initial * 2^(attempts-1), max).
// Used by relay/ (the scheduler).
#pragma once

#include <chrono>

namespace rp::protocol {

// attempts: failed attempts so far (1 after the first failure; 0 is treated
// as 1). jitter_unit: a uniform random number in [0, 1); the nominal delay
// is scaled by 0.9 + 0.2 * jitter_unit (+-10 %), then clamped to
// [initial, max].
std::chrono::milliseconds next_delay(unsigned attempts, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max, double jitter_unit);

}  // namespace rp::protocol
