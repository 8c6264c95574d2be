// MemoryStore: the in-memory twin of FileStore for tests. Appends complete
// inline; failures can be injected. The text survives "restarts" (a new Pool
// loading from the same MemoryStore), which is what the tests need.
#pragma once

#include <mutex>

#include "pool/store.hpp"

namespace rp::pool {

class MemoryStore final : public Store {
  public:
    std::error_code load(Loaded& out) override {
        std::lock_guard lock(mutex_);
        out.text = text_;
        out.last_write = last_write_;
        return {};
    }
    void append(std::string lines, Done done) override {
        std::error_code ec;
        {
            std::lock_guard lock(mutex_);
            if (fail_)
                ec = fail_;
            else
                text_ += lines;
            ++appends_;
        }
        if (done) done(ec);
    }
    void replace(std::string snapshot, Done done) override {
        std::error_code ec;
        {
            std::lock_guard lock(mutex_);
            if (fail_)
                ec = fail_;
            else
                text_ = std::move(snapshot);
        }
        if (done) done(ec);
    }
    std::error_code set_aside(std::string& moved_to) override {
        std::lock_guard lock(mutex_);
        set_aside_ = std::move(text_);
        text_.clear();
        moved_to = "memory:set-aside";
        return {};
    }
    std::string describe() const override { return "memory"; }

    // Test controls.
    void set_text(std::string text, WallTime last_write = {}) {
        std::lock_guard lock(mutex_);
        text_ = std::move(text);
        last_write_ = last_write;
    }
    std::string text() const {
        std::lock_guard lock(mutex_);
        return text_;
    }
    void fail_with(std::error_code ec) {
        std::lock_guard lock(mutex_);
        fail_ = ec;
    }
    std::size_t appends() const {
        std::lock_guard lock(mutex_);
        return appends_;
    }

  private:
    mutable std::mutex mutex_;
    std::string text_;
    std::string set_aside_;
    WallTime last_write_{};
    std::error_code fail_;
    std::size_t appends_ = 0;
};

}  // namespace rp::pool
