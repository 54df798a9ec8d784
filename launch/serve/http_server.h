#pragma once
// HttpServer: HTTP/1.1 on Boost.Asio + Boost.Beast for `slkv serve`. One
// network thread runs every connection (keep-alive, a bounded header and
// body, an idle timeout); a handler gets each request with an HttpExchange
// to answer it from any thread, at once or later (a whole response, or a
// Server-Sent Events stream over chunked transfer encoding), so the engine's
// thread never waits for the network and the network never waits for it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace slkv {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct HttpLimits {
  uint64_t max_body_bytes = uint64_t{8} << 20;
  uint32_t max_header_bytes = 16 << 10;
  std::chrono::seconds idle_timeout{120};  // a connection with no request for this long is closed
};

// One request's answer. Thread-safe: calls are queued onto the connection.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  // A whole response (extra_headers: "Name: value\r\n" lines).
  virtual void respond(unsigned status, const std::string& content_type, std::string body,
                       const std::string& extra_headers = "") = 0;
  // 200, text/event-stream; then events ("data: <payload>\n\n" each); then the end.
  virtual void start_events() = 0;
  virtual void send_event(const std::string& payload) = 0;
  virtual void end_events() = 0;
  // Called once, on the network thread, when the client goes away before the
  // exchange ends (a write fails): the place to cancel its work.
  virtual void on_disconnect(std::function<void()> callback) = 0;
  virtual bool disconnected() const = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<HttpExchange>)>;

class HttpServer {
 public:
  // Binds host:port (port 0: an ephemeral one, see port()). Throws slkv::Error when it cannot.
  HttpServer(const std::string& host, uint16_t port, HttpLimits limits, HttpHandler handler);
  ~HttpServer();
  uint16_t port() const { return port_; }
  // Runs the network until stop(); call from the network thread.
  void run();
  // Any thread: no new connections (in-flight exchanges go on).
  void stop_accepting();
  // Any thread: closes everything; run() returns.
  void stop();
  boost::asio::io_context& context() { return context_; }

 private:
  void accept();

  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  HttpLimits limits_;
  HttpHandler handler_;
  uint16_t port_ = 0;
};

}  // namespace slkv
