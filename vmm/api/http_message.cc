#include "vmm/api/http_message.h"

#include <fmt/format.h>

namespace wisp::api {

HttpRequestReader::HttpRequestReader() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_url = on_url;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_body = on_body;
  settings_.on_message_complete = on_message_complete;
}

HttpRequestReader& HttpRequestReader::self(http_parser* parser) {
  return *static_cast<HttpRequestReader*>(parser->data);
}

int HttpRequestReader::on_url(http_parser* parser, const char* at, size_t length) {
  HttpRequestReader& reader = self(parser);
  if (reader.current_.path.size() + length > kMaxRequestPath) {
    reader.refusal_ = fmt::format("the request's path is longer than {} bytes", kMaxRequestPath);
    return 1;
  }
  reader.current_.path.append(at, length);
  return 0;
}

int HttpRequestReader::on_headers_complete(http_parser* parser) {
  HttpRequestReader& reader = self(parser);
  // The parser sets content_length to ULLONG_MAX when the request has none.
  if (parser->content_length != ULLONG_MAX && parser->content_length > kMaxRequestBody) {
    reader.refusal_ = fmt::format(
        "Request payload with size {} is larger than the limit of {} allowed by server.",
        parser->content_length, kMaxRequestBody);
    return -1;  // 1 and 2 mean "no body" and "upgrade" here; anything else stops the parser
  }
  return 0;
}

int HttpRequestReader::on_body(http_parser* parser, const char* at, size_t length) {
  HttpRequestReader& reader = self(parser);
  if (reader.current_.body.size() + length > kMaxRequestBody) {
    reader.refusal_ = fmt::format(
        "Request payload is larger than the limit of {} allowed by server.", kMaxRequestBody);
    return 1;
  }
  reader.current_.body.append(at, length);
  return 0;
}

// Stops the parser after each request, so that next() hands requests out one by one and the
// caller answers each before the next is read.
int HttpRequestReader::on_message_complete(http_parser* parser) {
  HttpRequestReader& reader = self(parser);
  reader.current_.method = http_method_str(static_cast<http_method>(parser->method));
  reader.current_.keep_alive = http_should_keep_alive(parser) != 0;
  reader.complete_ = true;
  http_parser_pause(parser, 1);
  return 0;
}

Result<std::optional<HttpRequest>> HttpRequestReader::next() {
  if (pending_.empty()) return std::optional<HttpRequest>();
  size_t parsed = http_parser_execute(&parser_, &settings_, pending_.data(), pending_.size());
  pending_.erase(0, parsed);
  auto status = static_cast<http_errno>(parser_.http_errno);
  if (status == HPE_PAUSED) http_parser_pause(&parser_, 0);
  if (status != HPE_OK && status != HPE_PAUSED) {
    if (!refusal_.empty()) return fail("{}", refusal_);
    return fail("not an HTTP/1.1 request: {}", http_errno_description(status));
  }
  if (!complete_) return std::optional<HttpRequest>();
  complete_ = false;
  HttpRequest request = std::move(current_);
  current_ = {};
  // The path without a query string, which no endpoint takes.
  if (size_t query = request.path.find('?'); query != std::string::npos) request.path.resize(query);
  return std::optional<HttpRequest>(std::move(request));
}

std::string_view http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
  }
  return "Unknown";
}

std::string format_http_response(const HttpResponse& response) {
  std::string head = fmt::format("HTTP/1.1 {} {}\r\nServer: Wisp API\r\n", response.status,
                                 http_reason(response.status));
  if (response.status == 204) return head + "\r\n";
  return fmt::format("{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}", head,
                     response.body.size(), response.body);
}

}  // namespace wisp::api
