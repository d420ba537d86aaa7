#pragma once
/// A TLS stream over a socket it borrows, for the data plane (client and
/// target connections). OpenSSL reads records from a buffer this stream fills
/// from the socket, and writes records into one this stream sends, through a
/// BIO of its own: one copy each way, no BIO pair, and nothing allocated
/// before it is used (Asio's ssl::stream zeroes two 17 KiB buffers per
/// connection and copies every byte twice more through its BIO pair).
///
/// Operations: the handshake, a read, a write and the shutdown, as Asio's
/// AsyncReadStream / AsyncWriteStream (any completion token; Beast's and
/// Asio's composed operations work over it). At most one read and one write
/// may be pending at a time, as on a socket; only the handshake and the
/// shutdown need the stream to themselves.
///
/// Records are sent as soon as an operation has produced them, with one
/// non-blocking send first (most complete there); what the socket does not
/// take is written asynchronously before the operation completes, so a write
/// completes once its records are all in the kernel (back-pressure). A write
/// encrypts at most kMaxWrite bytes per call, small buffers of one call (a
/// response head and its body) together in one record.
///
/// Errors are those of Asio's ssl::stream: OpenSSL errors in Asio's ssl
/// category, `ssl::error::stream_truncated` for an end of stream without a
/// close_notify, `error::eof` after one, and the socket's own errors.
/// Thread: the socket's executor.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>

#include "edge/core/readiness.hpp"
#include "edge/core/types.hpp"

namespace edge::tls {

class Stream {
 public:
  using executor_type = Executor;
  using handshake_type = asio::ssl::stream_base::handshake_type;
  /// Plaintext bytes one write encrypts at most (two full records): bounds the
  /// output buffers, about 36 KiB each at most.
  static constexpr std::size_t kMaxWrite = 32 * 1024;

  /// A new TLS session on `socket`, which must outlive the stream. Throws
  /// std::runtime_error when OpenSSL cannot create it.
  Stream(Socket& socket, SSL_CTX* ctx);
  Stream(Socket& socket, asio::ssl::context& ctx) : Stream(socket, ctx.native_handle()) {}
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  SSL* native_handle() const noexcept { return ssl_; }
  Socket& next_layer() noexcept { return socket_; }
  executor_type get_executor() noexcept { return socket_.get_executor(); }

  template <class Token>
  auto async_handshake(handshake_type type, Token&& token) {
    if (type == asio::ssl::stream_base::client) {
      SSL_set_connect_state(ssl_);
    } else {
      SSL_set_accept_state(ssl_);
      drain_marks_ = true;
    }
    return start<false>([](Stream& s) { return s.do_handshake(); }, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    asio::mutable_buffer b;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      if (asio::mutable_buffer m(*it); m.size() > 0) {
        b = m;
        break;
      }
    }
    return start<true>([b](Stream& s) { return s.do_read(b); }, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    // Up to four buffers (Beast's head + body, a chunk's size + data + CRLF)
    // per write, within kMaxWrite; the caller's composed write sends the rest.
    Pieces p;
    std::size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers);
         it != asio::buffer_sequence_end(buffers) && p.count < Pieces::kMax && total < kMaxWrite; ++it) {
      asio::const_buffer c(*it);
      if (c.size() == 0) continue;
      const std::size_t take = std::min(c.size(), kMaxWrite - total);
      p.piece[p.count++] = asio::const_buffer(c.data(), take);
      total += take;
    }
    return start<true>([p](Stream& s) { return s.do_write(p); }, std::forward<Token>(token));
  }

  /// The next `n` plaintext bytes written are the stream's last: the write that
  /// takes the last of them also writes the close_notify, and both go out in
  /// one send (one system call and one segment less than a separate shutdown).
  /// A later async_shutdown then has nothing to do.
  void shutdown_after(std::size_t n) noexcept {
    shutdown_after_ = n;
    shutdown_armed_ = n > 0;
  }
  /// Whether our close_notify was written.
  bool shutdown_sent() const noexcept { return (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) != 0; }

  /// Sends a close_notify; does not wait for the peer's.
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start<false>([](Stream& s) { return s.do_shutdown(); }, std::forward<Token>(token));
  }

 private:
  struct Pieces {
    static constexpr std::size_t kMax = 4;
    asio::const_buffer piece[kMax];
    std::size_t count = 0;
  };
  /// What an OpenSSL call left to do before the operation can go on.
  enum class Want { done, input, retry };
  struct Step {
    Want want = Want::done;
    boost::system::error_code ec;
    std::size_t bytes = 0;
    /// Done, and what OpenSSL produced may wait in acc_ for the next operation
    /// that sends (a write, a shutdown, or a read that has to wait). Set only
    /// on success: a failed step always sends what is there.
    bool hold = false;
  };
  /// Output bytes: what OpenSSL produced (acc_), and what is being sent (out_).
  struct Bytes {
    unsigned char* data = nullptr;
    std::size_t size = 0, capacity = 0;
  };

  Step do_handshake();
  Step do_read(asio::mutable_buffer b);
  Step do_write(const Pieces& p);
  Step do_shutdown();
  /// The step after an OpenSSL call returned `ret` <= 0. A write never reads
  /// (`may_read` false): that is the pending read's business.
  Step failed(int ret, bool may_read = true);
  /// Sends acc_ without blocking. True when all of it went; otherwise what is
  /// left is in out_ (for an asynchronous write) and `ec` says why, if it failed.
  bool send_now(boost::system::error_code& ec);
  /// The end of the socket's stream, as Asio's ssl::stream reports it.
  boost::system::error_code end_of_stream(const boost::system::error_code& ec) const;
  unsigned char* input_space();  // in_ from in_end_, allocated on first use
  std::size_t input_capacity() const noexcept { return kInput - in_end_; }
  void release_flush();

  static int bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written);
  static int bio_read(BIO* bio, char* data, std::size_t len, std::size_t* read);
  static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);
  static BIO_METHOD* bio_method();

  static constexpr std::size_t kInput = 16 * 1024;

  /// One operation: runs its OpenSSL call, sends what it produced, reads what
  /// it needs, and runs it again until it is done.
  /// `WithBytes`: completes with (error_code, size_t), as a read or a write;
  /// otherwise with (error_code), as the handshake and the shutdown.
  template <bool WithBytes, class Action>
  struct Op {
    Stream& s;
    Action action;
    enum class State { start, after_read, after_flush, after_wait, posted } state = State::start;
    Step step{};
    bool gone_async = false;
    std::size_t asked = 0;     // the socket read's size
    std::uint64_t writes = 0;  // s.writes_ when that read started
    bool quiet = false;        // and no write was pending then

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case State::start:
          break;
        case State::after_read:
          if (ec) return finish(self, s.end_of_stream(ec), 0);
          s.in_end_ += n;
          // Completed by the reactor in this same handler (the read started
          // on a drained socket), and no write could complete before it.
          if (s.drain_marks_ && n < asked && quiet && writes == s.writes_)
            core::mark_drained(s.socket_);
          break;
        case State::after_flush:
          s.out_.size = 0;
          s.release_flush();
          if (ec) return finish(self, step.ec ? step.ec : ec, 0);
          return flush(self);  // what OpenSSL produced meanwhile, then go on
        case State::after_wait:
          return flush(self);
        case State::posted:
          return complete(self, step.ec, step.bytes);
      }
      run(self);
    }

    template <class Self>
    void run(Self& self) {
      step = action(s);
      flush(self);
    }

    /// Sends what OpenSSL produced, then goes where the step says.
    template <class Self>
    void flush(Self& self) {
      if (s.acc_.size > 0 && !step.hold) {
        if (s.flushing_) {  // the other pending operation is sending: wait for it
          state = State::after_wait;
          gone_async = true;
          if (!s.flush_done_) s.flush_done_ = std::make_unique<Timer>(s.socket_.get_executor());
          s.flush_done_->expires_at(Timer::time_point::max());
          s.flush_done_->async_wait(std::move(self));
          return;
        }
        boost::system::error_code ec;
        if (!s.send_now(ec)) {
          if (ec) return finish(self, step.ec ? step.ec : ec, 0);
          state = State::after_flush;
          gone_async = true;
          s.flushing_ = true;
          ++s.writes_;
          asio::async_write(s.socket_, asio::buffer(s.out_.data, s.out_.size), std::move(self));
          return;
        }
      }
      switch (step.want) {
        case Want::input: {
          unsigned char* space = s.input_space();
          asked = s.input_capacity();
          if (s.drain_marks_) {
            // What is there is read at once; a read that would fail is not
            // tried (see core/readiness.hpp).
            boost::system::error_code rec;
            std::size_t rn = 0;
            if (core::read_now(s.socket_, asio::buffer(space, asked), rec, rn)) {
              if (rec) return finish(self, s.end_of_stream(rec), 0);
              s.in_end_ += rn;
              if (rn < asked) core::mark_drained(s.socket_);
              return run(self);
            }
          }
          state = State::after_read;
          gone_async = true;
          writes = s.writes_;
          quiet = !s.flushing_;
          s.socket_.async_read_some(asio::buffer(space, asked), std::move(self));
          return;
        }
        case Want::retry:
          return run(self);
        case Want::done:
          return finish(self, step.ec, step.bytes);
      }
    }

    /// Completes; never from within the initiating call.
    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t n) {
      if (gone_async) return complete(self, ec, n);
      step.ec = ec;
      step.bytes = n;
      state = State::posted;
      auto ex = s.socket_.get_executor();
      asio::post(ex, std::move(self));
    }

    template <class Self>
    static void complete(Self& self, boost::system::error_code ec, std::size_t n) {
      if constexpr (WithBytes)
        self.complete(ec, n);
      else
        self.complete(ec);
    }
  };

  template <bool WithBytes, class Action, class Token>
  auto start(Action action, Token&& token) {
    using Signature = std::conditional_t<WithBytes, void(boost::system::error_code, std::size_t),
                                         void(boost::system::error_code)>;
    return asio::async_compose<Token, Signature>(Op<WithBytes, Action>{*this, std::move(action)},
                                                 token, socket_);
  }

  Socket& socket_;
  SSL* ssl_ = nullptr;
  std::unique_ptr<unsigned char[]> in_;  // socket bytes OpenSSL has not taken yet
  std::size_t in_pos_ = 0, in_end_ = 0;
  Bytes acc_, out_;
  bool flushing_ = false;             // an asynchronous write of out_ is pending
  bool shutdown_armed_ = false;       // shutdown_after: a close_notify follows
  std::size_t shutdown_after_ = 0;    // that many more plaintext bytes
  std::uint64_t writes_ = 0;          // asynchronous writes of out_ started
  // Server side: a short socket read marks the socket drained. A FIN without
  // a close_notify that comes with data is then seen only when the session
  // times out; a close_notify is data, and is never hidden.
  bool drain_marks_ = false;
  std::unique_ptr<Timer> flush_done_;  // wakes an operation waiting for that write
};

}  // namespace edge::tls
