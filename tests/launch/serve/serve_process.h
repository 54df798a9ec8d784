#pragma once
// Test helpers for `slkv serve`: the server as a child process (its port read
// from the line it prints), and a small HTTP client over Boost.Beast,
// including raw sockets for malformed requests.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace slkv::testing {

class ServeProcess {
 public:
  // `slkv serve ARGS --port 0`, under `mpirun -np N` when np > 0.
  explicit ServeProcess(const std::string& args, int np = 0) {
    std::string command = "exec ";
    if (np > 0) command += "mpirun --allow-run-as-root --oversubscribe --bind-to none -np " + std::to_string(np) + " ";
    command += std::string(SLKV_BINARY) + " serve " + args + " --port 0 2>" + log_path();
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    stdout_ = out[0];
    // The first line says where it listens.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd fd{stdout_, POLLIN, 0};
      if (poll(&fd, 1, 200) <= 0) continue;
      char c;
      if (read(stdout_, &c, 1) != 1) break;
      if (c != '\n') {
        line += c;
        continue;
      }
      const auto at = line.find("listening on http://");
      if (at != std::string::npos) {
        port_ = std::stoi(line.substr(line.rfind(':') + 1));
        break;
      }
      line.clear();
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGTERM);
      wait_exit(30);
      if (!exited_) kill(pid_, SIGKILL), wait_exit(5);
    }
    if (stdout_ >= 0) close(stdout_);
  }
  int port() const { return port_; }
  bool ok() const { return port_ > 0; }
  // SIGTERM, then the exit status (-1 when it did not exit within `seconds`).
  int terminate(int seconds = 60) {
    kill(pid_, SIGTERM);
    return wait_exit(seconds);
  }
  std::string log() const {
    std::ifstream in(log_path());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string log_path() const { return "/tmp/slkv_serve_test_" + std::to_string(getpid()) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)) + ".log"; }
  int wait_exit(int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_status_;
      }
      usleep(50000);
    }
    return -1;
  }
  pid_t pid_ = -1;
  int stdout_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_status_ = -1;
};

// Sync reads on a socket give up after `seconds` (Beast's timers only cover async ones).
inline void receive_timeout(int socket, int seconds) {
  timeval limit{seconds, 0};
  setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
  std::map<std::string, std::string> headers;
};

inline HttpReply http(int port, const std::string& method, const std::string& target, const std::string& body = "",
                      const std::map<std::string, std::string>& headers = {}) {
  namespace beast = boost::beast;
  namespace asio = boost::asio;
  HttpReply reply;
  try {
    asio::io_context context;
    beast::tcp_stream stream(context);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    receive_timeout(stream.socket().native_handle(), 300);
    beast::http::request<beast::http::string_body> request(beast::http::string_to_verb(method), target, 11);
    request.set(beast::http::field::host, "127.0.0.1");
    request.set(beast::http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    request.prepare_payload();
    beast::http::write(stream, request);
    beast::flat_buffer buffer;
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    beast::http::read(stream, buffer, parser);
    const auto& response = parser.get();
    reply.status = static_cast<int>(response.result_int());
    reply.body = response.body();
    for (const auto& field : response) reply.headers[std::string(field.name_string())] = std::string(field.value());
  } catch (const std::exception&) {
  }
  return reply;
}

inline HttpReply post(int port, const std::string& target, const nlohmann::json& body,
                      const std::map<std::string, std::string>& headers = {}) {
  return http(port, "POST", target, body.dump(), headers);
}

// The data payloads of a Server-Sent Events body.
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  return out;
}

// Sends raw bytes, reads what comes back until the server closes or `seconds`
// pass; true when it answered or closed (not a hang).
inline bool raw_exchange(int port, const std::string& bytes, std::string* answer, int seconds = 10) {
  namespace asio = boost::asio;
  try {
    asio::io_context context;
    boost::beast::tcp_stream stream(context);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    receive_timeout(stream.socket().native_handle(), seconds);
    asio::write(stream.socket(), asio::buffer(bytes));
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send);  // no more to come: the server must answer or close
    boost::beast::flat_buffer buffer;
    boost::system::error_code error;
    while (!error) {
      const size_t n = stream.read_some(buffer.prepare(4096), error);
      buffer.commit(n);
    }
    *answer = boost::beast::buffers_to_string(buffer.data());
    return error != asio::error::would_block && error != asio::error::try_again && error != asio::error::timed_out;
  } catch (const std::exception&) {
    return true;  // refused or reset: closed, not hung
  }
}

}  // namespace slkv::testing
