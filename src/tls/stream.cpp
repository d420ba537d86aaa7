#include "edge/tls/stream.hpp"

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

namespace edge::tls {

namespace ssl_error = asio::ssl::error;

namespace {

/// SSL_get_error needs an empty error queue before each call into OpenSSL.
/// ERR_clear_error always walks and frees all 16 slots of the queue (some two
/// thousand instructions in OpenSSL 3.0, three times per proxied request);
/// the queue is almost always empty already, and peeking says so at once.
void clear_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

}  // namespace

Stream::Stream(Socket& socket, SSL_CTX* ctx) : socket_(socket), ssl_(SSL_new(ctx)) {
  if (ssl_ == nullptr) throw std::runtime_error("SSL_new failed");
  BIO* bio = BIO_new(bio_method());
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw std::runtime_error("BIO_new failed");
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one reference, for both directions
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
}

Stream::~Stream() {
  SSL_free(ssl_);  // frees the BIO
  std::free(acc_.data);
  std::free(out_.data);
}

// ------------------------------------------------------------------ steps

Stream::Step Stream::do_handshake() {
  clear_errors();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    // A server whose client already sent its first request with its Finished:
    // the session tickets (TLS 1.3) wait, and go out with the response, in
    // one send. A client that has sent nothing yet gets them at once, since
    // the read that waits for its request sends them first.
    Step done;
    done.hold = drain_marks_ && in_end_ > in_pos_;
    return done;
  }
  return failed(r);
}

Stream::Step Stream::do_read(asio::mutable_buffer b) {
  if (b.size() == 0) return {};
  clear_errors();
  std::size_t n = 0;
  const int r = SSL_read_ex(ssl_, b.data(), b.size(), &n);
  // On the server side, what a read that got data produced (tickets held by
  // the handshake, a KeyUpdate's answer) waits for the response's write.
  if (r == 1) return {Want::done, {}, n, drain_marks_};
  return failed(r);
}

Stream::Step Stream::do_write(const Pieces& p) {
  clear_errors();
  // Small pieces (a response head and its body) go out together in one
  // record: one encryption and one record header instead of one per piece.
  // Larger ones are encrypted in place.
  constexpr std::size_t kRecord = 16 * 1024;
  unsigned char stage[kRecord];
  std::size_t staged = 0, total = 0;
  Step error;
  auto write = [&](const void* data, std::size_t size) {
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_, data, size, &n);
    if (r != 1) {
      error = failed(r, false);
      return false;
    }
    total += n;
    return true;
  };
  auto write_staged = [&] {
    const bool ok = staged == 0 || write(stage, staged);
    staged = 0;
    return ok;
  };
  bool ok = true;
  for (std::size_t i = 0; ok && i < p.count; ++i) {
    const auto& piece = p.piece[i];
    if (p.count > 1 && piece.size() < kRecord) {
      if (staged + piece.size() > kRecord) ok = write_staged();
      if (ok) {
        std::memcpy(stage + staged, piece.data(), piece.size());
        staged += piece.size();
      }
    } else {
      ok = write_staged() && write(piece.data(), piece.size());
    }
  }
  if (ok) ok = write_staged();
  // Report what was taken; the next write sees the error.
  if (!ok && total == 0) return error;
  if (shutdown_armed_) {
    if (total < shutdown_after_) {
      shutdown_after_ -= total;
    } else {
      // The last bytes: the close_notify joins them in acc_ (0: sent, the
      // peer's not read, which is not waited for).
      shutdown_armed_ = false;
      (void)SSL_shutdown(ssl_);
      clear_errors();
    }
  }
  return {Want::done, {}, total};
}

Stream::Step Stream::do_shutdown() {
  clear_errors();
  const int r = SSL_shutdown(ssl_);
  // 0: our close_notify is out, the peer's not read: not waited for.
  if (r >= 0 || SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return {};
  return failed(r, false);
}

Stream::Step Stream::failed(int ret, bool may_read) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      if (may_read) return {Want::input, {}, 0};
      break;
    case SSL_ERROR_WANT_WRITE:
      // The BIO takes every byte: OpenSSL only asks for a flush.
      if (acc_.size > 0) return {Want::retry, {}, 0};
      break;
    case SSL_ERROR_ZERO_RETURN:
      return {Want::done, asio::error::eof, 0};
    case SSL_ERROR_SSL:
      return {Want::done,
              boost::system::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()),
              0};
    case SSL_ERROR_SYSCALL:
      if (const unsigned long e = ERR_get_error(); e != 0)
        return {Want::done, boost::system::error_code(static_cast<int>(e), asio::error::get_ssl_category()),
                0};
      return {Want::done, ssl_error::unspecified_system_error, 0};
    default:
      break;
  }
  return {Want::done, ssl_error::unexpected_result, 0};
}

boost::system::error_code Stream::end_of_stream(const boost::system::error_code& ec) const {
  if (ec != asio::error::eof) return ec;
  // A peer must end with a close_notify: without one, the stream was cut.
  if ((SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0) return ssl_error::stream_truncated;
  return ec;
}

// --------------------------------------------------------------- buffers

unsigned char* Stream::input_space() {
  if (!in_) in_.reset(new unsigned char[kInput]);  // not zeroed: written before read
  if (in_pos_ == in_end_) {
    in_pos_ = in_end_ = 0;
  } else if (in_pos_ > 0) {
    std::memmove(in_.get(), in_.get() + in_pos_, in_end_ - in_pos_);
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  return in_.get() + in_end_;
}

bool Stream::send_now(boost::system::error_code& ec) {
  // MSG_DONTWAIT: the socket may not be in non-blocking mode yet (Asio sets
  // it on the first asynchronous operation), and setting it here would cost
  // a second ioctl per connection.
  std::size_t sent = 0;
  for (;;) {
    const ssize_t r =
        ::send(socket_.native_handle(), acc_.data, acc_.size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
      sent = static_cast<std::size_t>(r);
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return false;
    }
    break;
  }
  if (sent == acc_.size) {
    acc_.size = 0;
    return true;
  }
  // The rest is written asynchronously from out_ (empty: no write is pending);
  // acc_ takes what OpenSSL produces meanwhile.
  std::swap(acc_, out_);
  std::memmove(out_.data, out_.data + sent, out_.size - sent);
  out_.size -= sent;
  acc_.size = 0;
  return false;
}

void Stream::release_flush() {
  flushing_ = false;
  if (flush_done_) flush_done_->cancel();
}

// ------------------------------------------------------------------- BIO

int Stream::bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  auto* s = static_cast<Stream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  Bytes& a = s->acc_;
  if (a.size + len > a.capacity) {
    // Doubling from 4 KiB, but never past what one write can need (kMaxWrite and
    // its records' overhead): a buffer stays within about 36 KiB.
    const std::size_t need = (a.size + len + 4095) / 4096 * 4096;
    const std::size_t cap =
        std::max(need, std::min<std::size_t>(std::max<std::size_t>(a.capacity * 2, 4096),
                                             kMaxWrite + 4096));
    auto* p = static_cast<unsigned char*>(std::realloc(a.data, cap));
    if (p == nullptr) return 0;
    a.data = p;
    a.capacity = cap;
  }
  std::memcpy(a.data + a.size, data, len);
  a.size += len;
  *written = len;
  return 1;
}

int Stream::bio_read(BIO* bio, char* data, std::size_t len, std::size_t* read) {
  auto* s = static_cast<Stream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const std::size_t avail = s->in_end_ - s->in_pos_;
  if (avail == 0) {
    BIO_set_retry_read(bio);  // the operation reads the socket, then runs again
    *read = 0;
    return 0;
  }
  const std::size_t n = std::min(len, avail);
  std::memcpy(data, s->in_.get() + s->in_pos_, n);
  s->in_pos_ += n;
  *read = n;
  return 1;
}

long Stream::bio_ctrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // the operation sends what was written once OpenSSL returns
    case BIO_CTRL_PENDING: {
      auto* s = static_cast<Stream*>(BIO_get_data(bio));
      return static_cast<long>(s->in_end_ - s->in_pos_);
    }
    default:
      return 0;
  }
}

BIO_METHOD* Stream::bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "edge tls stream");
    if (m == nullptr) throw std::runtime_error("BIO_meth_new failed");
    BIO_meth_set_write_ex(m, &Stream::bio_write);
    BIO_meth_set_read_ex(m, &Stream::bio_read);
    BIO_meth_set_ctrl(m, &Stream::bio_ctrl);
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

}  // namespace edge::tls
