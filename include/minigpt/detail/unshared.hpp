// minigpt/detail/unshared.hpp — a member that is an object's work space, not part of its value.
//
// A model's value is its configuration and its weights. The activations of its last forward
// pass and its gradient buffer are work space: a copy of the model (a frozen reference
// policy, a second scalar type, a model handed to another thread) starts with none of them.
// Unshared<T> holds such a member: copying gives a fresh, empty T; moving moves it.
//
// Shapes in: none.  Shapes out: none.
#pragma once

namespace minigpt {
namespace detail {

template <typename T>
class Unshared {
 public:
  Unshared() = default;
  Unshared(const Unshared&) {}
  Unshared& operator=(const Unshared&) {
    value_ = T();
    return *this;
  }
  Unshared(Unshared&&) = default;
  Unshared& operator=(Unshared&&) = default;

  T& operator*() { return value_; }
  const T& operator*() const { return value_; }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }

 private:
  T value_;
};

}  // namespace detail
}  // namespace minigpt
