// Exponential retry backoff with caller-supplied jitter (see backoff.hpp).
// Doubling stops as soon as the cap is reached, so no attempt count can
// overflow.
#include "protocol/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace rp::protocol {

std::chrono::milliseconds next_delay(unsigned attempts, std::chrono::milliseconds initial,
                                     std::chrono::milliseconds max, double jitter_unit) {
    using ms = std::chrono::milliseconds;
    if (initial.count() < 0) initial = ms(0);
    if (max < initial) max = initial;
    ms nominal = initial;
    for (unsigned i = 1; i < attempts && nominal < max; ++i) {
        nominal = nominal.count() > max.count() / 2 ? max : nominal * 2;
    }
    nominal = std::min(nominal, max);
    if (!(jitter_unit >= 0.0)) jitter_unit = 0.0;  // also catches NaN
    jitter_unit = std::min(jitter_unit, 1.0);
    const double scaled = static_cast<double>(nominal.count()) * (0.9 + 0.2 * jitter_unit);
    const auto jittered = ms(static_cast<ms::rep>(std::llround(scaled)));
    return std::clamp(jittered, initial, max);
}

}  // namespace rp::protocol
