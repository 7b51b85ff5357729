package org.cyclediffusion.libtorch.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.libtorch.TorchNatives;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link Conv2d}'s own route (im2col + one GEMM for small outputs; 1×1 kernels keep {@code conv2d}'s) against
 * {@code conv2d} on the same weights and input. They sum the same products in another order, so
 * neither is exact: both are measured against the same convolution in float64, and a route may be at
 * most twice as far from it as {@code conv2d} is, or √K·2⁻²⁴ of the largest output, the typical
 * rounding of a float32 sum of K = in·k·k terms, whichever is larger (OpenBLAS's GEMM behind
 * {@code conv2d}'s 1×1 route rounds 3× less than oneDNN's 1×1 kernel at 320 → 640 channels: 9.8e-7
 * against 3.3e-6, outputs up to 3.6, which is why 1×1 kernels are not sent to oneDNN). How far {@code conv2d} is depends on the kernels
 * (1.5e-5–2.7e-5 against outputs up to 4.7 with oneDNN limited to AVX2, K up to 2560·9); a wrong tap,
 * stride, padding or batch order is off by the order of the outputs themselves.
 */
class Conv2dRoutesTest {
    private static final double FACTOR = 2;
    private static final double UNIT_ROUNDOFF = 0x1p-24;

    @BeforeAll
    static void loadNatives() {
        TorchNatives.load();
    }

    @ParameterizedTest(name = "{0}->{1} k{2} s{3} p{4} {5}x{6}x{6} bias {7}")
    @CsvSource({
        // in, out, kernel, stride, padding, batch, side, bias
        "1280, 1280, 3, 1, 1, 4, 4, true", // SD 1.5's 4×4 level of a 256² edit
        "2560, 1280, 3, 1, 1, 4, 4, true",
        "1280, 1280, 3, 2, 1, 4, 8, true", // the stride-2 convolution into it
        "2560, 1280, 3, 1, 1, 4, 8, true", // 8×8 with a weight over 32 MiB: GEMM
        "1280, 640, 3, 1, 1, 2, 8, true", // 8×8, 29 MiB weight: conv2d's route
        "64, 48, 3, 1, 1, 2, 2, true",
        "64, 48, 3, 1, 1, 3, 1, false",
        "32, 24, 3, 2, 1, 1, 7, true", // odd side, 4×4 output
        "48, 40, 3, 2, 0, 2, 9, false", // no padding (the VAE encoder's downsampler pads itself)
        "40, 48, 3, 1, 1, 2, 5, true", // 25 output pixels: conv2d's route
        "320, 640, 1, 1, 0, 4, 32, true", // conv_shortcut / proj_in at full size
        "64, 32, 1, 1, 0, 3, 5, false",
        "8, 8, 1, 1, 0, 1, 1, true"
    })
    void routesEqualConv2d(int in, int out, int kernel, int stride, int padding, int batch, int side, boolean bias) {
        try (PointerScope scope = new PointerScope(); InferenceMode mode = new InferenceMode()) {
            torch.manual_seed(in * 31L + out * 7L + kernel + side);
            ParameterSource random = new ParameterSource("random") {
                @Override
                public Tensor take(String name, long... shape) {
                    return torch.randn(shape).mul_(new Scalar(1.0 / Math.sqrt(in * kernel * kernel)));
                }
            };
            Conv2d conv = withRoutes(true, () -> Conv2d.create(random, "conv", in, out, kernel, stride, padding, bias));
            Conv2d plain = withRoutes(false, () -> Conv2d.create(new Reusing(conv), "conv", in, out, kernel, stride, padding, bias));
            Tensor x = torch.randn(batch, in, side, side);
            Tensor expected = plain.forward(x);
            Tensor actual = conv.forward(x);
            assertArrayEquals(expected.sizes().vec().get(), actual.sizes().vec().get());
            assertTrue(actual.is_contiguous(), "NCHW-contiguous output");
            List<Tensor> p = conv.parameters();
            Tensor exact = torch.conv2d(x.to(torch.ScalarType.Double), p.get(0).to(torch.ScalarType.Double),
                    bias ? new TensorOptional(p.get(1).to(torch.ScalarType.Double)) : new TensorOptional(), new long[] {stride, stride},
                    new long[] {padding, padding}, new long[] {1, 1}, 1);
            double max = exact.abs().max().item_double();
            double conv2dError = expected.to(torch.ScalarType.Double).sub(exact).abs().max().item_double();
            double routeError = actual.to(torch.ScalarType.Double).sub(exact).abs().max().item_double();
            double sumRounding = Math.sqrt((double) in * kernel * kernel) * UNIT_ROUNDOFF * max;
            assertTrue(routeError <= Math.max(FACTOR * conv2dError, sumRounding), String.format(Locale.ROOT,
                    "max |route - float64| %.3g against max |conv2d - float64| %.3g (max |out| %.3g)", routeError, conv2dError, max));
        }
    }

    /** Hands out the weight and bias another Conv2d was built with, in the order create() takes them. */
    private static final class Reusing extends ParameterSource {
        private final java.util.Iterator<Tensor> tensors;

        Reusing(Conv2d conv) {
            super("reuse");
            this.tensors = conv.parameters().iterator();
        }

        @Override
        public Tensor take(String name, long... shape) {
            return tensors.next();
        }
    }

    private static Conv2d withRoutes(boolean on, java.util.function.Supplier<Conv2d> create) {
        String before = System.getProperty(Conv2d.ROUTES_PROPERTY);
        System.setProperty(Conv2d.ROUTES_PROPERTY, Boolean.toString(on));
        try {
            return create.get();
        } finally {
            if (before == null) {
                System.clearProperty(Conv2d.ROUTES_PROPERTY);
            } else {
                System.setProperty(Conv2d.ROUTES_PROPERTY, before);
            }
        }
    }
}
