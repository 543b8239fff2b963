// The element-wise functors, written once: each row is
//
//   TOADSTOOL_ELEMENTWISE(name, Functor, signature, types)
//
// name       the ElementwiseOp enumerator (kernels/kernel_args.h)
// Functor    the class template in kernels/math.h, Functor<T> for compute
//            type T; parameterised ones hold OpScalars<T> p
// signature  Signature: the operand layout (Unary: T f(T); Binary: T f(T, T),
//            also with either operand a bound scalar; ...ToBool: bool results)
// types      TypeSet: the compute dtypes it is built for
//
// Every backend's element-wise entry instantiates the whole list
// (kernels/elementwise_dispatch.h, with the backend's loop), so adding a row is all a new
// per-element kernel needs below the front-end. No include guard: every
// expansion defines TOADSTOOL_ELEMENTWISE, includes this file and undefines it.
#ifndef TOADSTOOL_ELEMENTWISE
#error "define TOADSTOOL_ELEMENTWISE(name, Functor, signature, types) first"
#endif

// arithmetic
TOADSTOOL_ELEMENTWISE(Add, AddOp, Binary, Compute)
TOADSTOOL_ELEMENTWISE(Sub, SubOp, Binary, Numeric)
TOADSTOOL_ELEMENTWISE(Mul, MulOp, Binary, Compute)
TOADSTOOL_ELEMENTWISE(Div, DivOp, Binary, Float)
TOADSTOOL_ELEMENTWISE(Pow, PowOp, Binary, Compute)
TOADSTOOL_ELEMENTWISE(Atan2, Atan2Op, Binary, Float)
TOADSTOOL_ELEMENTWISE(Maximum, MaximumOp, Binary, Compute)
TOADSTOOL_ELEMENTWISE(Minimum, MinimumOp, Binary, Compute)
// comparisons and logic
TOADSTOOL_ELEMENTWISE(Eq, EqOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(Ne, NeOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(Lt, LtOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(Le, LeOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(Gt, GtOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(Ge, GeOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(LogicalAnd, LogicalAndOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(LogicalOr, LogicalOrOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(LogicalXor, LogicalXorOp, BinaryToBool, Compute)
TOADSTOOL_ELEMENTWISE(LogicalNot, LogicalNotOp, UnaryToBool, Compute)
// selection and fills
TOADSTOOL_ELEMENTWISE(Where, WhereOp, Where, Compute)
TOADSTOOL_ELEMENTWISE(MaskedFill, MaskedFillOp, MaskedFill, Compute)
TOADSTOOL_ELEMENTWISE(Clamp, ClampOp, Unary, Numeric)
TOADSTOOL_ELEMENTWISE(Fill, FillOp, Nullary, All)
// unary math
TOADSTOOL_ELEMENTWISE(Neg, NegOp, Unary, Numeric)
TOADSTOOL_ELEMENTWISE(Abs, AbsOp, Unary, Numeric)
TOADSTOOL_ELEMENTWISE(Relu, ReluOp, Unary, Numeric)
TOADSTOOL_ELEMENTWISE(Exp, ExpOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Log, LogOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Log1p, Log1pOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Sqrt, SqrtOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Rsqrt, RsqrtOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Tanh, TanhOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Sigmoid, SigmoidOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Sin, SinOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Cos, CosOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(GeluErf, GeluErfOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(GeluTanh, GeluTanhOp, Unary, Float)
TOADSTOOL_ELEMENTWISE(Softplus, SoftplusOp, Unary, Float)
// derivatives: f(grad, x) = grad * f'(x)
TOADSTOOL_ELEMENTWISE(ReluBackward, ReluBackwardOp, Binary, Floating)
TOADSTOOL_ELEMENTWISE(GeluErfBackward, GeluErfBackwardOp, Binary, Float)
TOADSTOOL_ELEMENTWISE(GeluTanhBackward, GeluTanhBackwardOp, Binary, Float)
