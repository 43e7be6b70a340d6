// The activation functions as small types (value and derivative), and a dispatcher that picks one
// at run time so elementwise loops are compiled once per function and vectorise.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

#include "mlptune/model.hpp"

namespace mlptune::ref::detail {

template <class T>
struct Relu {
  static T value(T z) { return z > T(0) ? z : T(0); }
  static T derivative(T z) { return z > T(0) ? T(1) : T(0); }
};

template <class T>
struct Tanh {
  static T value(T z) { return std::tanh(z); }
  static T derivative(T z) {
    const T t = std::tanh(z);
    return T(1) - t * t;
  }
};

template <class T>
struct Sigmoid {
  static T value(T z) { return T(1) / (T(1) + std::exp(-z)); }
  static T derivative(T z) {
    const T s = value(z);
    return s * (T(1) - s);
  }
};

// The tanh approximation: 0.5·z·(1 + tanh(k·(z + c·z³))), k = √(2/π), c = 0.044715.
template <class T>
struct Gelu {
  static constexpr T k = T(0.79788456080286535588);
  static constexpr T c = T(0.044715);
  static T value(T z) { return T(0.5) * z * (T(1) + std::tanh(k * (z + c * z * z * z))); }
  static T derivative(T z) {
    const T t = std::tanh(k * (z + c * z * z * z));
    return T(0.5) * (T(1) + t) + T(0.5) * z * (T(1) - t * t) * k * (T(1) + T(3) * c * z * z);
  }
};

template <class T>
struct Identity {
  static T value(T z) { return z; }
  static T derivative(T) { return T(1); }
};

// Returns body(F{}) with F the function type of `activation`.
template <class T, class Body>
decltype(auto) with_activation(Activation activation, Body&& body) {
  switch (activation) {
    case Activation::relu:
      return body(Relu<T>{});
    case Activation::tanh:
      return body(Tanh<T>{});
    case Activation::sigmoid:
      return body(Sigmoid<T>{});
    case Activation::gelu:
      return body(Gelu<T>{});
    case Activation::identity:
      return body(Identity<T>{});
  }
  throw std::invalid_argument("unknown activation value " + std::to_string(static_cast<int>(activation)));
}

}  // namespace mlptune::ref::detail
