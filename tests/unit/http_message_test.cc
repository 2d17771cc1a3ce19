#include "vmm/api/http_message.h"

#include <catch2/catch.hpp>
#include <string>

namespace wisp::api {
namespace {

HttpRequest next_request(HttpRequestReader& reader) {
  auto request = reader.next();
  REQUIRE(request);
  REQUIRE(*request);
  return std::move(**request);
}

std::string error_of(HttpRequestReader& reader) {
  auto request = reader.next();
  REQUIRE_FALSE(request);
  return request.error().message();
}

constexpr std::string_view kPut =
    "PUT /drives/rootfs?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    "Content-Length: 17\r\n\r\n{\"drive_id\": \"a\"}";

}  // namespace

TEST_CASE("API HTTP: a request's method, path without query, body and keep-alive") {
  HttpRequestReader reader;
  reader.append(kPut);
  HttpRequest request = next_request(reader);
  CHECK(request.method == "PUT");
  CHECK(request.path == "/drives/rootfs");
  CHECK(request.body == R"({"drive_id": "a"})");
  CHECK(request.keep_alive);
  auto none = reader.next();
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("API HTTP: a request that arrives a byte at a time") {
  HttpRequestReader reader;
  for (size_t i = 0; i + 1 < kPut.size(); ++i) {
    reader.append(kPut.substr(i, 1));
    auto partial = reader.next();
    REQUIRE(partial);
    CHECK_FALSE(*partial);
  }
  reader.append(kPut.substr(kPut.size() - 1));
  CHECK(next_request(reader).body == R"({"drive_id": "a"})");
}

TEST_CASE("API HTTP: pipelined requests come out one by one, in order") {
  HttpRequestReader reader;
  reader.append(
      "GET / HTTP/1.1\r\n\r\nPATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /version "
      "HTTP/1.1\r\nConnection: close\r\n\r\n");
  CHECK(next_request(reader).path == "/");
  HttpRequest patch = next_request(reader);
  CHECK(patch.method == "PATCH");
  CHECK(patch.body == "{}");
  HttpRequest last = next_request(reader);
  CHECK(last.path == "/version");
  CHECK_FALSE(last.keep_alive);
}

TEST_CASE("API HTTP: oversized, malformed and overlong requests are refused") {
  HttpRequestReader declared;
  declared.append("PUT /drives/a HTTP/1.1\r\nContent-Length: 51201\r\n\r\n");
  CHECK(error_of(declared).find("Request payload with size 51201 is larger than the limit of "
                                "51200") != std::string::npos);

  HttpRequestReader chunked;
  chunked.append("PUT /drives/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk = "1000\r\n" + std::string(0x1000, 'x') + "\r\n";
  for (int i = 0; i < 13; ++i) chunked.append(chunk);
  CHECK(error_of(chunked).find("larger than the limit") != std::string::npos);

  HttpRequestReader garbage;
  garbage.append("\x16\x03\x01 hello\r\n\r\n");
  CHECK(error_of(garbage).find("not an HTTP/1.1 request") != std::string::npos);

  HttpRequestReader long_path;
  long_path.append("GET /" + std::string(kMaxRequestPath, 'a') + " HTTP/1.1\r\n\r\n");
  CHECK(error_of(long_path).find("path is longer than 4096 bytes") != std::string::npos);

  HttpRequestReader headers;
  headers.append("GET / HTTP/1.1\r\n");
  for (int i = 0; i < 2000; ++i) headers.append("X-Filler: " + std::string(50, 'y') + "\r\n");
  CHECK(error_of(headers).find("not an HTTP/1.1 request") != std::string::npos);
}

TEST_CASE("API HTTP: responses as Firecracker's server sends them") {
  CHECK(format_http_response({204, {}}) == "HTTP/1.1 204 No Content\r\nServer: Wisp API\r\n\r\n");
  CHECK(format_http_response({400, R"({"fault_message":"x"})"}) ==
        "HTTP/1.1 400 Bad Request\r\nServer: Wisp API\r\nContent-Type: application/json\r\n"
        "Content-Length: 21\r\n\r\n{\"fault_message\":\"x\"}");
}

}  // namespace wisp::api
