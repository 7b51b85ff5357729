package org.cyclediffusion.core.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bit-exact parity of {@link PilResample} with Pillow 9.4.0 (Debian 12's python3-pil, the version
 * that made the goldens). The references are SHA-256 digests of {@code im.resize((W, H), filter).tobytes()}
 * for two synthetic patterns, generated with:
 *
 * <pre>{@code
 * def pattern(kind, w, h):
 *     n = w * h * 3
 *     if kind == "noise":
 *         b = bytes(((i * 2654435761) & 0xFFFFFFFF) >> 24 for i in range(n))
 *     else:
 *         b = bytes(((i // 3 % w) * 13 + (i // 3 // w) * 7 + (i % 3) * 85) & 255 for i in range(n))
 *     return Image.frombytes("RGB", (w, h), b)
 * hashlib.sha256(pattern(kind, w, h).resize((W, H), Image.Resampling.LANCZOS).tobytes()).hexdigest()
 * }</pre>
 *
 * Noise drives most sums outside 0..255 (clip8); the sawtooth has sharp steps; the sizes cover
 * down- and upscaling (the safety checker's 64 → 224 BICUBIC), one axis only, 1×1 and non-integer ratios.
 */
class PilResampleTest {
    static Stream<String> pillowReferences() {
        return Stream.of(
                "noise 70x60 64x56 LANCZOS 0f2c53fbfebfceb46827b3a5c61287b512239311cffa428f5ff46ebce44f54c4",
                "noise 70x60 64x56 BICUBIC 5747b4c1c226191959b20cd6c1ed636a9bad73b8037f420b5ecf1eb2125ae0d9",
                "noise 64x64 224x224 LANCZOS 564b1cd8b5cf4d24b71dd857608e956ab3ff389d7e545e4a19bbe10b98cb5fe3",
                "noise 64x64 224x224 BICUBIC 01c50ba7a9841e026ab54e1ab735fa09334fc16a7a73c87921c2c7bcd548e3a2",
                "noise 96x64 336x224 LANCZOS f0e6bad9f0bda1a86591125270fcf48a4c586405151ea5bc4ad7bf33d444a6d3",
                "noise 96x64 336x224 BICUBIC a6099b8094ab92dbcd485c010b887c7a1ddc21f9769214ac323aac3468bd674f",
                "noise 80x56 320x224 LANCZOS 34405f0140c7b97885c36fc69d9f7226e202f7e0ba94dca4bcc4e536eb4db3ab",
                "noise 80x56 320x224 BICUBIC e1ccb7068764980566950c910ee0f0fb1d7d531589c3c8197bbbf2ef722004bf",
                "noise 37x23 101x7 LANCZOS 878d4fbd1423c101c301e924c36c8df1f559ee63ab5d7a18e46ceac1e73174e7",
                "noise 37x23 101x7 BICUBIC 59ef2023ea60c3df90d6e38904b16e0caad128c978810279499f0a098a13df15",
                "noise 300x200 17x13 LANCZOS 5d715022f29cfa2258f7f94c27702beb96930b27dccd4dbea474570bd184e021",
                "noise 300x200 17x13 BICUBIC 2e728fe23b53faf1058e2d2206b05cad694bb9192cc2fdb851936e61b4a892ac",
                "noise 5x5 3x9 LANCZOS 3716bf5750463060d75d9623a0b293f4da94ca8257016b92f7e427bc495604d1",
                "noise 5x5 3x9 BICUBIC 6fc779980267fbd0510d0f274841179a3957e60ce5279e6410baa099387bae04",
                "noise 1x1 4x4 LANCZOS 53931eabb4e4c90c0d10cbeebb430aff925c1ce232972358d467f6218b45abcb",
                "noise 1x1 4x4 BICUBIC 53931eabb4e4c90c0d10cbeebb430aff925c1ce232972358d467f6218b45abcb",
                "noise 64x64 64x32 LANCZOS 45c0131521bb03efbea26ebcc36f8e0a11346d0edfde20fd41b6ba459be8ec74",
                "noise 64x64 64x32 BICUBIC faadb9a30007c638ff8643e66c5a740533a6ef7845838076dc6c7395a0962643",
                "noise 64x64 32x64 LANCZOS 779be9835f6f9c69f4b48071a5d3a348174087fee67c3564ae33d3f73544461b",
                "noise 64x64 32x64 BICUBIC 29a1600f156ee4e5c068494b062ff997373eeee9c34ea2a12dccefd5ab899414",
                "noise 13x200 13x57 LANCZOS 774cddefdb3beafcf7257fa2bd857c2dfc20754a1c9cf1d2c3ad00db11a518a3",
                "noise 13x200 13x57 BICUBIC 3a47f7dc1e899a3924d767f56295adfdbcb928bd5def024e529341c47261cfa6",
                "noise 2x3 1x1 LANCZOS 2d62018b33a82e3aa36a68b761b99d697484b3effa54c50599a8cba0d192b088",
                "noise 2x3 1x1 BICUBIC 3e28e7e275f147b356718a480436529740bff05389e3f5a58cd05371eec224dd",
                "noise 64x56 224x196 LANCZOS 4605ed921d70d2306504c39a16d9cd5bb161b794e8004bf4f741ecd81cc0a274",
                "noise 64x56 224x196 BICUBIC 93df820e7ed569e3582d86dd87c6e53f2f43e516301cfc1c727aefb60347a98e",
                "noise 224x224 64x64 LANCZOS 9cc83f26144c463f4f6e0056080de07b29776293df377fb8a7093f41172ef2f6",
                "noise 224x224 64x64 BICUBIC 2425ef05a6e31b9ff35b92f61b32a3f7692509dc961bb58637d173fadfef5679",
                "saw 70x60 64x56 LANCZOS 3a7d244336953a0797cd4635bb333fb912630d7cf1174b5fd8029dea1418df96",
                "saw 70x60 64x56 BICUBIC 9825ec0d15fda951afa17f8230317cef942399180a2fbc980211ad5a45b84791",
                "saw 64x64 224x224 LANCZOS a4306cfc008f383ea504327d2ef06741b991c93af63469a3a89d70303764ea83",
                "saw 64x64 224x224 BICUBIC 97e37e81807efbe7a634039137d7f42e77aee67327758a5a917f84be3ca43cc2",
                "saw 96x64 336x224 LANCZOS 93eb237affafd681b38875644bba941453a9d51762032ccbb716324509eece99",
                "saw 96x64 336x224 BICUBIC 1528558119b02421e25e42c0f621eeb69b318636df90811faa9356519b18d984",
                "saw 80x56 320x224 LANCZOS 60df9b239e666e80c547879175d7f9e6fac1f162f66f43f9b3f470244195edbf",
                "saw 80x56 320x224 BICUBIC 4e71993ca9b87fda26264702d35f920111936ba25caa1232cf8b5f88d2f26d5f",
                "saw 37x23 101x7 LANCZOS 76ced6e4dfa028a9b73476d321ea1ade7f082fa7c945b2a282039772cb771fc3",
                "saw 37x23 101x7 BICUBIC 11f18e8b8c395debcf1bae4cdd1510eccbfbbed44ba728e763cef81c8dd4fdd1",
                "saw 300x200 17x13 LANCZOS 5c04003bfa1a3bf4b3ad7ee57b990a35c76c0d1df7275d01607aae5072950567",
                "saw 300x200 17x13 BICUBIC dbdc5c7d529d015381cff099a9abf7c9887f79f675892a8555e1af5318f0e7fc",
                "saw 5x5 3x9 LANCZOS 3300e5a251fcb60af8c006eef623c5b795c89a3ecbf366cd7a1a30d8672fc8e0",
                "saw 5x5 3x9 BICUBIC 692cebb72a73935e1f6d4ba0db93271d495a6e9ba02775fbd00c3d657d5ee63b",
                "saw 1x1 4x4 LANCZOS 599c86a89dd06dd8c7c8c724cac202e37f03077da925a7abfbcb8b3a980aab61",
                "saw 1x1 4x4 BICUBIC 599c86a89dd06dd8c7c8c724cac202e37f03077da925a7abfbcb8b3a980aab61",
                "saw 64x64 64x32 LANCZOS 45d765605ed22c6dcf3d578c3ee1a186654f33ab356c88510392e37f3a2a24fd",
                "saw 64x64 64x32 BICUBIC 0335b060542f34bb32772931a07efa4b63c2c1a69d9dcec558e6c29455281e0d",
                "saw 64x64 32x64 LANCZOS 0322851bfd3345fe03cbb19efd13d5513274cdf8143c937490406625cba04922",
                "saw 64x64 32x64 BICUBIC 50f6e418b9bd2f77b42de52460c6817f4baed19ac4a11d321f8d53d3e83d49e7",
                "saw 13x200 13x57 LANCZOS 17550840cbfd9ac2364573bcf8409a0a08bc02734412b10452c5b63e92e7151c",
                "saw 13x200 13x57 BICUBIC a7e13b5765e6aab3cc2bfd401e5f45e86935748648fbebc0a6bb9088e00771e9",
                "saw 2x3 1x1 LANCZOS 790fe31257fcee60dba61ba10cf79608c7ace7a951d7537bec4b60d93d325ce3",
                "saw 2x3 1x1 BICUBIC 790fe31257fcee60dba61ba10cf79608c7ace7a951d7537bec4b60d93d325ce3",
                "saw 64x56 224x196 LANCZOS 6d040806d0105dfdb9b80693b7f6261beb0ad384cccdbb3acbd7fd07f25a00af",
                "saw 64x56 224x196 BICUBIC 9f527a9033a84c18d4c2d1fe47092386f4ace3250b1b05d8ac701bf4c78b4de0",
                "saw 224x224 64x64 LANCZOS d21107040d2d53bfab08dd56dc32c64153898fc5966d9042cea098d66331efd2",
                "saw 224x224 64x64 BICUBIC e1951533c7f60ea36ee0af82ca3be43b8643f787ee34e76e510a0a58df3bf57b"
        );
    }

    @ParameterizedTest
    @MethodSource("pillowReferences")
    void matchesPillowBitForBit(String reference) {
        String[] f = reference.split(" ");
        String[] in = f[1].split("x");
        String[] out = f[2].split("x");
        RgbImage src = pattern(f[0], Integer.parseInt(in[0]), Integer.parseInt(in[1]));
        RgbImage resized = PilResample.resize(src, Integer.parseInt(out[0]), Integer.parseInt(out[1]),
                PilResample.Filter.valueOf(f[3]));
        assertEquals(Integer.parseInt(out[0]), resized.width());
        assertEquals(Integer.parseInt(out[1]), resized.height());
        assertEquals(f[4], sha256(resized.rgb()), reference);
    }

    /**
     * The fixture images, {@code Image.open(f).convert("RGB").resize(...)}: CLIP's shortest edge 224
     * with BICUBIC (what the safety checker does), the VAE's floor-to-8 with LANCZOS (a copy except
     * for img_e), and an odd LANCZOS size.
     */
    static Stream<String> fixtureReferences() {
        return Stream.of(
                "img_a_64x64.png 224x224 BICUBIC f8ba4b28359578b9ef5052c0a4c24fd0ba06e1582a4ebffce13d87b1638abe12",
                "img_a_64x64.png 64x64 LANCZOS 8a332d2308c780ce98a2891d9e0660fd4f32ec4087dab823fe64a42b1f911bd9",
                "img_a_64x64.png 31x45 LANCZOS 958fe1083effc3f1735a0cd0879dc8002dcbd6ca7546e94bd123da8b15b00571",
                "img_b_96x64.png 336x224 BICUBIC e8b56b73276ea15fdc1b96a2e2883b7716e248b4284a50fbb005716e37924008",
                "img_b_96x64.png 96x64 LANCZOS 7a814ff63e8850f515c8a3cae3fbf4db42da6fc3c8a87e6a29e26b12c715ba21",
                "img_b_96x64.png 31x45 LANCZOS 05d9d20cbfb43a752b7e00dbe8a870b6b685435205a8472b728bd3c2b1e676a7",
                "img_c_64x64.png 224x224 BICUBIC 88cb9859de4934a627cf55766f3ea0dcf14a94b2c825e8bd431e75c40c7f0c32",
                "img_c_64x64.png 64x64 LANCZOS 38b9c9baa16085dfa72e2ed90d8fade74dfcaf65fcd68e76c0c49cf606065624",
                "img_c_64x64.png 31x45 LANCZOS e722a4cea9f153a12bc7d11d17ca1a16b3da488b6e7465b222d0594b706ed27b",
                "img_d_80x56.png 320x224 BICUBIC f5693e26577f146d9ef61832fcaf249c5e43de22acd163a642b0acd3454acdbe",
                "img_d_80x56.png 80x56 LANCZOS e87d7d37c7875296c39ab7a563b208caacd87129fffac2b68b0c6f4528ab838f",
                "img_d_80x56.png 31x45 LANCZOS d2058405eddd1d4d88abec4fc1b6bee6683d357d38ce67fd9ee9bec3226e173f",
                "img_e_70x60.png 261x224 BICUBIC f5290089dc096272d412729924eee49c678e439bb1f8e5a4ccc479785d233e63",
                "img_e_70x60.png 64x56 LANCZOS e08f76a5bdf57ee21e60a51eab117eb1fbf67259db23de899edc01edd76abc93",
                "img_e_70x60.png 31x45 LANCZOS e1b17dfc312728d059da5f82052f73bc694bcb7b6ec888c0523e9dddee2e10bd"
        );
    }

    @ParameterizedTest
    @MethodSource("fixtureReferences")
    void fixtureImagesMatchPillowBitForBit(String reference) {
        String[] f = reference.split(" ");
        String[] out = f[1].split("x");
        RgbImage src = ImageFiles.read(Fixtures.image(f[0]));
        RgbImage resized = PilResample.resize(src, Integer.parseInt(out[0]), Integer.parseInt(out[1]),
                PilResample.Filter.valueOf(f[2]));
        assertEquals(f[3], sha256(resized.rgb()), reference);
    }

    @Test
    void sameSizeIsACopy() {
        RgbImage src = pattern("noise", 9, 7);
        RgbImage same = PilResample.resize(src, 9, 7, PilResample.Filter.LANCZOS);
        assertEquals(src, same);
        assertNotSame(src.rgb(), same.rgb());
    }

    @Test
    void constantImageStaysConstant() {
        // Weights sum to 1 in fixed point up to rounding; the 1 << 21 offset makes a flat image exact.
        byte[] px = new byte[40 * 30 * 3];
        java.util.Arrays.fill(px, (byte) 200);
        RgbImage up = PilResample.resize(new RgbImage(40, 30, px), 97, 61, PilResample.Filter.BICUBIC);
        for (byte b : up.rgb()) {
            assertEquals(200, b & 0xFF);
        }
    }

    @Test
    void rejectsEmptySize() {
        RgbImage src = pattern("saw", 4, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PilResample.resize(src, 0, 4, PilResample.Filter.BICUBIC));
        assertEquals("height and width must be > 0, got 0x4 for resizing a 4x4 image", e.getMessage());
    }

    static RgbImage pattern(String kind, int w, int h) {
        byte[] b = new byte[w * h * 3];
        for (int i = 0; i < b.length; i++) {
            if (kind.equals("noise")) {
                b[i] = (byte) ((i * 2654435761L & 0xFFFFFFFFL) >>> 24);
            } else {
                b[i] = (byte) ((i / 3 % w) * 13 + (i / 3 / w) * 7 + (i % 3) * 85);
            }
        }
        return new RgbImage(w, h, b);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
