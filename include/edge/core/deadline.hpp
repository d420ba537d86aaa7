#pragma once
/// Coarse per-connection deadlines swept by one timer per worker.
///
/// A `Deadline` is an intrusive list node owned by a connection. Arming it is one
/// store of a time point (no timer, no syscall); the worker's sweep (every tick)
/// walks the list and, for each expired entry, sets `fired` and cancels the
/// socket so that the pending operation completes with operation_aborted. The
/// connection then reads `fired` to tell a timeout from other errors.
/// Thread: worker (the list and all its nodes belong to one worker).

#include <chrono>
#include <cstdint>

namespace edge {

class DeadlineList;

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = void (*)(void* owner);

  Deadline() = default;
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() { unlink(); }

  /// Registers in `list`; on expiry `cb(owner)` runs on the worker thread.
  void attach(DeadlineList& list, Callback cb, void* owner);
  void unlink();

  /// Expire at `now + d` (`now` is the list's coarse time).
  inline void arm(Clock::duration d);
  void disarm() { at_ = Clock::time_point::max(); }
  bool armed() const { return at_ != Clock::time_point::max(); }
  /// True once the deadline expired; cleared by reset_fired().
  bool fired() const { return fired_; }
  void reset_fired() { fired_ = false; }

 private:
  friend class DeadlineList;
  DeadlineList* list_ = nullptr;
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
  Clock::time_point at_ = Clock::time_point::max();
  Callback cb_ = nullptr;
  void* owner_ = nullptr;
  bool fired_ = false;
};

class DeadlineList {
 public:
  using Clock = Deadline::Clock;

  DeadlineList() { now_ = Clock::now(); }
  DeadlineList(const DeadlineList&) = delete;
  DeadlineList& operator=(const DeadlineList&) = delete;
  ~DeadlineList() {
    while (head_) head_->unlink();
  }

  /// Coarse current time, refreshed by sweep().
  Clock::time_point now() const { return now_; }
  /// Refreshes `now` and fires every expired deadline. Returns how many fired.
  std::size_t sweep(Clock::time_point now);
  std::size_t size() const { return size_; }

  /// Calls f(owner) for every attached deadline (callbacks may unlink others:
  /// iteration tolerates the current node being unlinked, not arbitrary ones).
  template <class F>
  void for_each_owner(F&& f) {
    for (Deadline* d = head_; d;) {
      Deadline* next = d->next_;
      f(d->owner_);
      d = next;
    }
  }

 private:
  friend class Deadline;
  Deadline* head_ = nullptr;
  Deadline* cursor_ = nullptr;  // next node during sweep (unlink-safe)
  std::size_t size_ = 0;
  Clock::time_point now_;
};

inline void Deadline::arm(Clock::duration d) { at_ = list_->now() + d; }

}  // namespace edge
