// The Redis wire format, done by hiredis (why hiredis and not our own RESP:
// redis_connection.hpp): commands formatted by redisFormatCommandArgv,
// replies parsed by its redisReader into RedisReply. No I/O; hiredis stays
// out of every other header. Used by relay/redis_connection.cpp; RedisReply
// by everything that reads replies.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

struct redisReader;  // hiredis

namespace rp::relay {

struct RedisReply {
    enum class Type { io_failed, string, status, integer, nil, array, error };
    Type type = Type::io_failed;
    std::string str;  // string, status, error; io_failed: why
    long long integer = 0;
    std::vector<RedisReply> elements;
    bool io_failed() const { return type == Type::io_failed; }
    bool is_error() const { return type == Type::error; }
};

// The protocol bytes of one command ("" when hiredis cannot format it).
std::string format_command(const std::vector<std::string>& args);

// Replies out of a byte stream, in order.
class ReplyParser {
  public:
    ReplyParser();
    ~ReplyParser();
    ReplyParser(const ReplyParser&) = delete;
    ReplyParser& operator=(const ReplyParser&) = delete;

    void feed(const char* data, std::size_t size);
    enum class Next { reply, need_more, protocol_error };
    // The next complete reply into `out`, if the bytes fed so far hold one.
    Next next(RedisReply& out);

  private:
    struct Free {
        void operator()(redisReader* r) const;
    };
    std::unique_ptr<redisReader, Free> reader_;
};

}  // namespace rp::relay
