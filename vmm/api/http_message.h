// HTTP/1.1 for the API socket: requests read from a connection's bytes with Node's http_parser
// (Debian's libhttp-parser), responses formatted as Firecracker's API server sends them.
#pragma once

#include <http_parser.h>

#include <optional>
#include <string>
#include <string_view>

#include "vmm/base/result.h"

namespace wisp::api {

struct HttpRequest {
  std::string method;  // "GET", "PUT", "PATCH", ...
  std::string path;    // without a query string
  std::string body;
  bool keep_alive = true;
};

struct HttpResponse {
  int status = 204;
  std::string body;  // JSON, or empty
};

// Bounds on what one request may carry; past them the request is refused (400) and the
// connection closed. Firecracker's default payload limit is the same 51200 bytes.
inline constexpr size_t kMaxRequestBody = 51200;
inline constexpr size_t kMaxRequestPath = 4096;

// Reads requests out of a connection's bytes, one at a time, also when several arrive in one
// read (pipelining) or one arrives over several reads.
class HttpRequestReader {
 public:
  HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Adds bytes read from the connection.
  void append(std::string_view bytes) { pending_.append(bytes); }
  // The next whole request, nothing while it is incomplete, or why the bytes are not HTTP.
  // After an error the connection can only be closed.
  Result<std::optional<HttpRequest>> next();

 private:
  static int on_url(http_parser* parser, const char* at, size_t length);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, size_t length);
  static int on_message_complete(http_parser* parser);
  static HttpRequestReader& self(http_parser* parser);

  http_parser parser_;
  http_parser_settings settings_;
  std::string pending_;  // bytes not parsed yet
  HttpRequest current_;
  bool complete_ = false;
  std::string refusal_;  // why a callback stopped the parser
};

// The bytes of `response` on the wire: status line, headers, JSON body.
std::string format_http_response(const HttpResponse& response);

// The reason phrase of a status code the API uses.
std::string_view http_reason(int status);

}  // namespace wisp::api
