// Redis commands and replies through hiredis (see redis_codec.hpp).
#include "relay/redis_codec.hpp"

#include <hiredis/hiredis.h>

#include <cstdlib>

namespace rp::relay {
namespace {

RedisReply convert(const redisReply* r) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::string;
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::status;
            break;
        case REDIS_REPLY_ERROR:
            out.type = RedisReply::Type::error;
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            out.integer = r->integer;
            return out;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
            return out;
        default:
            out.type = RedisReply::Type::nil;
            return out;
    }
    out.str.assign(r->str, r->len);
    return out;
}

}  // namespace

std::string format_command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* out = nullptr;
    const int n = redisFormatCommandArgv(&out, static_cast<int>(args.size()), argv.data(), lens.data());
    if (n < 0 || out == nullptr) return {};
    std::string s(out, static_cast<std::size_t>(n));
    std::free(out);  // hiredis 0.14 allocates with malloc
    return s;
}

void ReplyParser::Free::operator()(redisReader* r) const {
    redisReaderFree(r);
}

ReplyParser::ReplyParser() : reader_(redisReaderCreate()) {}
ReplyParser::~ReplyParser() = default;

void ReplyParser::feed(const char* data, std::size_t size) {
    redisReaderFeed(reader_.get(), data, size);
}

ReplyParser::Next ReplyParser::next(RedisReply& out) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) return Next::protocol_error;
    if (raw == nullptr) return Next::need_more;
    out = convert(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    return Next::reply;
}

}  // namespace rp::relay
