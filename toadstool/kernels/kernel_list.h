// The entries of the kernel table, written once: TOADSTOOL_KERNEL(name, Fn)
// is one entry `Fn* name` of kernels::Backend (kernels/backend.h, where the
// Fn types are declared with their contracts). The names are what errors
// ("softmax_forward: not built for cuda:0") and the coverage test print.
// No include guard: every expansion defines TOADSTOOL_KERNEL, includes this
// file and undefines it.
#ifndef TOADSTOOL_KERNEL
#error "define TOADSTOOL_KERNEL(name, Fn) before including kernels/kernel_list.h"
#endif

// memory
TOADSTOOL_KERNEL(allocate, AllocateFn)
TOADSTOOL_KERNEL(deallocate, DeallocateFn)
TOADSTOOL_KERNEL(copy_to_host, CopyBytesFn)
TOADSTOOL_KERNEL(copy_from_host, CopyBytesFn)
// element-wise
TOADSTOOL_KERNEL(convert, ConvertFn)
TOADSTOOL_KERNEL(elementwise, ElementwiseFn)
TOADSTOOL_KERNEL(triangle, TriangleFn)
// reductions and GEMM
TOADSTOOL_KERNEL(reduce, ReduceFn)
TOADSTOOL_KERNEL(gemm, GemmFn)
// row kernels
TOADSTOOL_KERNEL(softmax_forward, SoftmaxForwardFn)
TOADSTOOL_KERNEL(softmax_backward, SoftmaxBackwardFn)
TOADSTOOL_KERNEL(layer_norm_forward, LayerNormForwardFn)
TOADSTOOL_KERNEL(layer_norm_backward, LayerNormBackwardFn)
TOADSTOOL_KERNEL(dropout_add_layer_norm_forward, DropoutAddLayerNormForwardFn)
TOADSTOOL_KERNEL(dropout_add_layer_norm_backward, DropoutAddLayerNormBackwardFn)
TOADSTOOL_KERNEL(cross_entropy_forward, CrossEntropyForwardFn)
TOADSTOOL_KERNEL(cross_entropy_backward, CrossEntropyBackwardFn)
TOADSTOOL_KERNEL(attention_forward, AttentionForwardFn)
TOADSTOOL_KERNEL(attention_backward, AttentionBackwardFn)
// indexing
TOADSTOOL_KERNEL(index_select, IndexSelectFn)
TOADSTOOL_KERNEL(index_add, IndexAddFn)
TOADSTOOL_KERNEL(gather, GatherFn)
TOADSTOOL_KERNEL(scatter_add, ScatterAddFn)
TOADSTOOL_KERNEL(hashed_bigrams, HashedBigramsFn)
// convolution windows and stride-1 convolutions
TOADSTOOL_KERNEL(im2col, Im2colFn)
TOADSTOOL_KERNEL(col2im, Col2imFn)
TOADSTOOL_KERNEL(conv_forward, ConvForwardFn)
TOADSTOOL_KERNEL(conv_backward, ConvBackwardFn)
// one LSTM step's element-wise work
TOADSTOOL_KERNEL(lstm_cell_forward, LstmCellForwardFn)
TOADSTOOL_KERNEL(lstm_cell_backward, LstmCellBackwardFn)
// random numbers (Philox, kernels/philox.h)
TOADSTOOL_KERNEL(fill_uniform, FillUniformFn)
TOADSTOOL_KERNEL(fill_normal, FillNormalFn)
TOADSTOOL_KERNEL(fill_randint, FillRandintFn)
TOADSTOOL_KERNEL(fill_bernoulli, FillBernoulliFn)
TOADSTOOL_KERNEL(fill_bernoulli_tensor, FillBernoulliTensorFn)
TOADSTOOL_KERNEL(fill_randperm, FillRandpermFn)
TOADSTOOL_KERNEL(dropout, DropoutFn)
// fused optimizer steps
TOADSTOOL_KERNEL(sgd_step, SgdStepFn)
TOADSTOOL_KERNEL(adam_step, AdamStepFn)
