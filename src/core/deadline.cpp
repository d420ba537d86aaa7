#include "edge/core/deadline.hpp"

namespace edge {

void Deadline::attach(DeadlineList& list, Callback cb, void* owner) {
  unlink();
  list_ = &list;
  cb_ = cb;
  owner_ = owner;
  next_ = list.head_;
  prev_ = nullptr;
  if (next_) next_->prev_ = this;
  list.head_ = this;
  ++list.size_;
}

void Deadline::unlink() {
  if (!list_) return;
  if (list_->cursor_ == this) list_->cursor_ = next_;
  if (prev_) {
    prev_->next_ = next_;
  } else {
    list_->head_ = next_;
  }
  if (next_) next_->prev_ = prev_;
  --list_->size_;
  list_ = nullptr;
  prev_ = next_ = nullptr;
}

std::size_t DeadlineList::sweep(Clock::time_point now) {
  now_ = now;
  std::size_t fired = 0;
  for (Deadline* d = head_; d; d = cursor_) {
    cursor_ = d->next_;
    if (d->at_ <= now) {
      d->at_ = Clock::time_point::max();
      d->fired_ = true;
      ++fired;
      if (d->cb_) d->cb_(d->owner_);
    }
  }
  cursor_ = nullptr;
  return fired;
}

}  // namespace edge
