package org.cyclediffusion.core.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditObserver;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "A sampler of your own", taken from the README text itself: it compiles against
 * core alone, its one services file makes discovery find it in a class loader of its own, and the
 * pipeline edits with it (reconstruction with prompt = source prompt, as every DPM-Encoder sampler).
 */
class ReadmeSchedulerExampleTest {
    @TempDir
    Path dir;

    /** The fenced block after {@code <!-- example: PATH -->} in README.md, written under {@code dir}. */
    private static Path extract(String readme, String path, Path dir) throws IOException {
        Matcher m = Pattern.compile("<!-- example: " + Pattern.quote(path) + " -->\\s*```[a-z]*\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md has no example block for " + path);
        Path file = dir.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, m.group(1));
        return file;
    }

    @Test
    void theReadmeSchedulerCompilesIsDiscoveredAndEdits() throws Exception {
        Path readmeFile = Fixtures.root().resolve("../../../../../README.md").normalize();
        String readme = Files.readString(readmeFile);
        Path src = dir.resolve("src");
        Path classes = dir.resolve("classes");
        Path java = extract(readme, "com/example/AncestralSampler.java", src);
        extract(readme, "META-INF/services/org.cyclediffusion.core.plugin.CycleDiffusionPlugin", classes);
        long lines = Files.readAllLines(java).size();
        System.out.println("README scheduler example: " + lines + " lines of Java and one services line");

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "the tests need a JDK (javax.tools)");
        StringWriter diagnostics = new StringWriter();
        boolean ok = javac.getTask(diagnostics, null, null,
                List.of("-d", classes.toString(), "-classpath", System.getProperty("java.class.path"), "-Xlint:none"), null,
                javac.getStandardFileManager(null, null, null).getJavaFileObjects(java)).call();
        assertTrue(ok, "the README example does not compile:\n" + diagnostics);

        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
            Registry registry = Registry.discover(loader);
            assertTrue(registry.schedulers().containsKey("AncestralSampler"), registry.schedulers().keySet().toString());
            ModelFolder tinySd = ModelFolder.open(Fixtures.model("tiny-sd"));
            SchedulerFactory factory = registry.scheduler("AncestralSampler", tinySd.config("scheduler", "scheduler_config.json"));
            assertTrue(factory.dpmEncoding().isPresent());
            assertEquals(registry.scheduler("ToyDDIMScheduler", tinySd.config("scheduler", "scheduler_config.json")).noiseScheduleDigest(),
                    factory.noiseScheduleDigest(), "Stable Diffusion's betas");

            FakeModels models = new FakeModels();
            CycleDiffusionPipeline p = new CycleDiffusionPipeline(models, () -> factory, ClipTokenizer.load(tinySd.component("tokenizer")),
                    null, models);
            FloatTensor[] clean = new FloatTensor[1];
            EditObserver obs = new EditObserver() {
                @Override
                public void tensor(String name, FloatTensor value) {
                    if (name.equals("clean_latents")) {
                        clean[0] = value;
                    }
                }
            };
            RgbImage image = new RgbImage(64, 64, new byte[64 * 64 * 3]);
            EditRequest.Builder b = EditRequest.builder().sourcePrompt("a horse").image(image).numInferenceSteps(20).guidanceScale(2)
                    .sourceGuidanceScale(2).seed(1).outputType(OutputType.LATENT).observer(obs);
            EditResult same = p.edit(b.prompt("a horse").build());
            assertTrue(same.latents().maxAbsDiff(clean[0]) <= 1e-5, "reconstruction: " + same.latents().maxAbsDiff(clean[0]));
            EditResult edit = p.edit(b.prompt("an elephant").build());
            assertTrue(edit.latents().maxAbsDiff(clean[0]) > 1e-2, "an edit moves");
        }
    }
}
