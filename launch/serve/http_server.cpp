#include "launch/serve/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <optional>
#include <utility>
#include <sstream>

#include "core/error.h"

namespace slkv {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

std::string status_text(unsigned status) {
  return std::string(http::obsolete_reason(static_cast<http::status>(status)));
}

// One client connection: reads requests one at a time, hands each to the
// handler, writes what its exchange queues, in order, then reads the next.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const HttpLimits& limits, const HttpHandler& handler)
      : stream_(std::move(socket)), limits_(limits), handler_(handler) {}

  void start() { net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); }); }

  // ---- what an exchange does, always on the connection's strand ----
  void queue_write(std::string bytes, bool ends_exchange) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), bytes = std::move(bytes), ends_exchange]() mutable {
      if (self->closed_) return;
      self->writes_.push_back({std::move(bytes), ends_exchange});
      if (self->writes_.size() == 1) self->write_next();
    });
  }
  void set_disconnect(std::function<void()> callback) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), callback = std::move(callback)]() mutable {
      if (self->closed_) {
        callback();
        return;
      }
      self->on_disconnect_ = std::move(callback);
    });
  }
  bool closed() const { return closed_; }
  bool keep_alive() const { return keep_alive_; }

 private:
  struct PendingWrite {
    std::string bytes;
    bool ends_exchange = false;
  };

  void read() {
    parser_.emplace();
    parser_->body_limit(limits_.max_body_bytes);
    parser_->header_limit(limits_.max_header_bytes);
    stream_.expires_after(limits_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, size_t) { self->on_read(error); });
  }

  void on_read(beast::error_code error) {
    if (error == http::error::end_of_stream || error == net::error::eof || error == beast::error::timeout ||
        error == net::error::connection_reset || error == net::error::operation_aborted) {
      close();
      return;
    }
    if (error) {  // refused before the handler: too large, or not HTTP
      unsigned status = 400;
      if (error == http::error::body_limit) status = 413;
      if (error == http::error::header_limit) status = 431;
      keep_alive_ = false;
      const std::string body = "{\"error\": {\"message\": \"" + std::string(status == 413 ? "request body too large" :
                                                                            status == 431 ? "request header too large"
                                                                                          : "malformed HTTP request") +
                               "\", \"type\": \"invalid_request_error\", \"param\": null, \"code\": " +
                               std::to_string(status) + "}}";
      queue_write(response_bytes(status, "application/json", body, ""), true);
      return;
    }
    stream_.expires_never();  // an exchange may take as long as generation does
    HttpRequest request = parser_->release();
    keep_alive_ = request.keep_alive();
    handler_(request, make_exchange());
  }

  std::shared_ptr<HttpExchange> make_exchange();

  void write_next() {
    net::async_write(stream_, net::buffer(writes_.front().bytes),
                     [self = shared_from_this()](beast::error_code error, size_t) { self->on_write(error); });
  }

  void on_write(beast::error_code error) {
    if (error) {
      close();
      return;
    }
    const bool ended = writes_.front().ends_exchange;
    writes_.pop_front();
    if (!writes_.empty()) {
      write_next();
      return;
    }
    if (!ended) return;
    on_disconnect_ = nullptr;  // the exchange is over
    if (keep_alive_)
      read();
    else
      close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    writes_.clear();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (auto callback = std::exchange(on_disconnect_, nullptr)) callback();
  }

 public:
  static std::string response_bytes(unsigned status, const std::string& content_type, const std::string& body,
                                    const std::string& extra_headers, bool keep_alive = true) {
    std::ostringstream out;
    out << "HTTP/1.1 " << status << " " << status_text(status) << "\r\nServer: slkv\r\nContent-Type: " << content_type
        << "\r\nContent-Length: " << body.size() << "\r\n" << extra_headers
        << (keep_alive ? "" : "Connection: close\r\n") << "\r\n"
        << body;
    return out.str();
  }

 private:
  beast::tcp_stream stream_;
  const HttpLimits& limits_;
  const HttpHandler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<PendingWrite> writes_;
  std::function<void()> on_disconnect_;
  bool closed_ = false;
  bool keep_alive_ = true;
};

class Exchange final : public HttpExchange {
 public:
  explicit Exchange(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  void respond(unsigned status, const std::string& content_type, std::string body,
               const std::string& extra_headers) override {
    connection_->queue_write(
        Connection::response_bytes(status, content_type, body, extra_headers, connection_->keep_alive()), true);
  }
  void start_events() override {
    connection_->queue_write(
        "HTTP/1.1 200 OK\r\nServer: slkv\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Transfer-Encoding: chunked\r\n" + std::string(connection_->keep_alive() ? "" : "Connection: close\r\n") + "\r\n",
        false);
  }
  void send_event(const std::string& payload) override {
    const std::string event = "data: " + payload + "\n\n";
    std::ostringstream chunk;
    chunk << std::hex << event.size() << "\r\n" << event << "\r\n";
    connection_->queue_write(chunk.str(), false);
  }
  void end_events() override { connection_->queue_write("0\r\n\r\n", true); }
  void on_disconnect(std::function<void()> callback) override { connection_->set_disconnect(std::move(callback)); }
  bool disconnected() const override { return connection_->closed(); }

 private:
  std::shared_ptr<Connection> connection_;
};

std::shared_ptr<HttpExchange> Connection::make_exchange() { return std::make_shared<Exchange>(shared_from_this()); }

}  // namespace

HttpServer::HttpServer(const std::string& host, uint16_t port, HttpLimits limits, HttpHandler handler)
    : acceptor_(context_), limits_(limits), handler_(std::move(handler)) {
  beast::error_code error;
  const net::ip::address address = net::ip::make_address(host, error);
  if (error) throw Error("--host " + host + " is not an IP address: " + error.message());
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
  if (error) throw Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + error.message());
  port_ = acceptor_.local_endpoint().port();
  accept();
}

HttpServer::~HttpServer() = default;

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(context_), [this](beast::error_code error, tcp::socket socket) {
    if (error) {
      if (!acceptor_.is_open()) return;  // stop_accepting()
    } else {
      std::make_shared<Connection>(std::move(socket), limits_, handler_)->start();
    }
    accept();
  });
}

void HttpServer::run() { context_.run(); }

void HttpServer::stop_accepting() {
  net::post(context_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

void HttpServer::stop() { context_.stop(); }

}  // namespace slkv
