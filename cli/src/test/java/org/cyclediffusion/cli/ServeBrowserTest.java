package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The editing page in a real browser (Debian's Chromium, headless, through chromedriver): upload,
 * a refused edit showing the server's message, an edit submitted from the keyboard whose result
 * equals {@code edit}'s output pixel for pixel, the progress bar fed by the event stream, and the
 * layout at 1280×800 and on a narrow window. Screenshots go to {@code target/}.
 */
class ServeBrowserTest {
    static final int STEPS = 40; // int(40 · 0.8) = 32 UNet steps: long enough to watch the bar move
    @TempDir
    Path tmp;

    static Path executable(String... candidates) {
        for (String c : candidates) {
            for (String dir : (System.getenv("PATH") + File.pathSeparator + "/usr/bin" + File.pathSeparator + "/usr/lib/chromium")
                    .split(File.pathSeparator)) {
                Path p = Path.of(dir, c);
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    @Test
    void editInTheBrowserGivesTheCommandLinesImage() throws Exception {
        Path chromium = executable("chromium", "chromium-browser");
        Path chromedriver = executable("chromedriver");
        if (chromium == null || chromedriver == null) {
            fail("the browser test needs Debian's chromium and chromium-driver (found chromium: " + chromium + ", chromedriver: "
                    + chromedriver + "); install them with: apt-get install chromium chromium-driver (.ci/run does this)");
        }
        // Relative, as a person types it (it shows on the page and in the screenshot).
        String model = Path.of("").toAbsolutePath().relativize(Fixtures.model("tiny-sd-onnx")).toString();
        Path input = Fixtures.image("img_a_64x64.png");
        Path cliOut = tmp.resolve("cli.png");
        CliTest.Run cli = CliTest.run("edit", "--model", model, "--image", input.toString(), "--source-prompt", "An astronaut riding a horse",
                "--prompt", "An astronaut riding an elephant", "--steps", "" + STEPS, "--guidance-scale", "2", "--seed", "5",
                "--output", cliOut.toString(), "--quiet");
        assertEquals(0, cli.code(), cli.err());
        RgbImage expected = ImageFiles.read(cliOut);

        Path target = Path.of("target");
        Files.createDirectories(target);
        try (ServeHarness serve = new ServeHarness("--model", model, "--port", "0")) {
            ChromeOptions options = new ChromeOptions();
            options.setBinary(chromium.toFile());
            options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--user-data-dir=" + tmp.resolve("chromium-profile"), "--window-size=1280,800");
            ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(chromedriver.toFile())
                    .usingAnyFreePort().build();
            ChromeDriver driver = new ChromeDriver(service, options);
            try {
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                driver.get(serve.url());
                // The viewport itself 1280 x 800, whatever the window's own decorations take.
                Number chromeHeight = (Number) driver.executeScript("return window.outerHeight - window.innerHeight");
                driver.manage().window().setSize(new Dimension(1280, 800 + chromeHeight.intValue()));
                wait.until(d -> d.findElement(By.id("model")).getText().contains("onnx cpu fp32"));
                assertEquals("0.8", value(driver, "strength"));
                assertEquals("50", value(driver, "num_inference_steps"));
                assertEquals("7.5", value(driver, "guidance_scale"));
                assertEquals("1", value(driver, "source_guidance_scale"));
                assertEquals("0.1", value(driver, "eta"));
                assertEquals("1", value(driver, "num_images_per_prompt"));
                driver.findElement(By.id("dice")).click();
                assertTrue(value(driver, "seed").matches("\\d+"), "the dice gives a seed: " + value(driver, "seed"));

                driver.findElement(By.id("image")).sendKeys(input.toAbsolutePath().toString());
                wait.until(d -> d.findElement(By.id("before")).isDisplayed());
                type(driver, "source_prompt", "An astronaut riding a horse");
                type(driver, "prompt", "An astronaut riding an elephant");
                type(driver, "num_inference_steps", "" + STEPS);
                type(driver, "guidance_scale", "2");
                type(driver, "seed", "5");

                // A bad input: the server's message appears and the field is marked.
                type(driver, "eta", "0");
                driver.findElement(By.id("edit")).click();
                wait.until(d -> !d.findElement(By.id("error")).getText().isEmpty());
                String error = driver.findElement(By.id("error")).getText();
                assertTrue(error.contains("eta = 0.0") && error.contains("expected eta > 0"), error);
                assertEquals("true", driver.findElement(By.id("eta")).getAttribute("aria-invalid"));
                wait.until(d -> d.findElement(By.id("edit")).isEnabled());

                // Fixed, and submitted from the keyboard (Enter in a text field).
                type(driver, "eta", "0.1");
                driver.findElement(By.id("prompt")).sendKeys(Keys.ENTER);
                wait.until(d -> "done".equals(d.findElement(By.id("status")).getText()));
                assertEquals("", driver.findElement(By.id("error")).getText());

                WebElement progress = driver.findElement(By.id("progress"));
                int stepsSeen = Integer.parseInt(progress.getAttribute("data-steps-seen"));
                assertEquals("" + (STEPS * 8 / 10), progress.getAttribute("max"));
                assertEquals(progress.getAttribute("max"), progress.getAttribute("value"));
                assertTrue(stepsSeen >= 2, "the progress bar saw " + stepsSeen + " step events");

                String src = driver.findElement(By.id("after")).getAttribute("src");
                assertTrue(src.startsWith("data:image/png;base64,"), src.substring(0, Math.min(40, src.length())));
                RgbImage got = ImageFiles.read(Base64.getDecoder().decode(src.substring(src.indexOf(',') + 1)), "page result", Long.MAX_VALUE);
                assertEquals(expected.width(), got.width());
                assertEquals(expected.height(), got.height());
                assertArrayEquals(expected.rgb(), got.rgb(), "the page's result differs from edit's output");
                assertEquals("5", driver.findElement(By.id("used-seed")).getText());
                assertTrue(driver.findElement(By.id("used")).getText().contains("\"num_inference_steps\": " + STEPS));
                WebElement download = driver.findElement(By.id("download"));
                assertTrue(download.getAttribute("href").startsWith("blob:"), download.getAttribute("href"));
                assertEquals("cyclediffusion-5.png", download.getAttribute("download"));
                driver.executeScript("document.activeElement.blur(); window.scrollTo(0, 0)");
                screenshot(driver, target.resolve("serve-page.png"));

                // Cancel: a long edit stops at its next step and the page says so.
                type(driver, "num_inference_steps", "900");
                driver.findElement(By.id("edit")).click();
                wait.until(d -> d.findElement(By.id("status")).getText().startsWith("step "));
                driver.findElement(By.id("cancel")).click();
                wait.until(d -> "cancelled".equals(d.findElement(By.id("status")).getText()));
                assertTrue(driver.findElement(By.id("edit")).isEnabled());
                assertEquals(src, driver.findElement(By.id("after")).getAttribute("src"), "the last result stays");

                // Keyboard: Tab from the prompt reaches the parameters, then the buttons.
                driver.findElement(By.id("source_prompt")).click();
                driver.switchTo().activeElement().sendKeys(Keys.TAB);
                assertEquals("prompt", driver.switchTo().activeElement().getAttribute("id"));

                // A narrow window: one column, nothing wider than the window.
                driver.manage().window().setSize(new Dimension(400, 800 + chromeHeight.intValue()));
                Number inner = (Number) driver.executeScript("return window.innerWidth");
                Number scroll = (Number) driver.executeScript("return document.documentElement.scrollWidth");
                assertTrue(scroll.intValue() <= inner.intValue(), "horizontal scrolling at " + inner + " px: page is " + scroll + " px wide");
                for (String id : List.of("edit", "prompt", "after")) {
                    WebElement e = driver.findElement(By.id(id));
                    assertTrue(e.getRect().getX() + e.getRect().getWidth() <= inner.intValue() + 1, id + " sticks out: " + e.getRect());
                }
                screenshot(driver, target.resolve("serve-page-narrow.png"));
            } finally {
                driver.quit();
            }
        }
    }

    private static String value(ChromeDriver driver, String id) {
        return driver.findElement(By.id(id)).getAttribute("value");
    }

    private static void type(ChromeDriver driver, String id, String text) {
        WebElement e = driver.findElement(By.id(id));
        e.clear();
        e.sendKeys(text);
    }

    private static void screenshot(ChromeDriver driver, Path to) throws Exception {
        Path shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, to, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("screenshot: " + to.toAbsolutePath());
    }
}
