package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtException.OrtErrorCode;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.config.ConfigException;
import org.junit.jupiter.api.Test;

/**
 * ONNX Runtime's error texts, as its arena and loader write them, turned into our one-line
 * messages. (The real failures run in {@link OrtProcessLifecycleTest} and
 * {@link OrtBackendProviderTest}; these are the texts that do not occur with the default session
 * options.)
 */
class OrtErrorsTest {
    @Test
    void theArenasAllocationFailureNamesTheSize() {
        OrtException e = new OrtException(OrtErrorCode.ORT_RUNTIME_EXCEPTION, "\u001B[1;31mNon-zero status code returned while running"
                + " MatMul node. Name:'/attn1/MatMul'\n Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:359"
                + " AllocateRawInternal Failed to allocate memory for requested buffer of size 250000000000\u001B[m");
        CycleDiffusionException c = OrtErrors.run("the UNet network (unet/model.onnx)", e);
        assertEquals("the UNet network (unet/model.onnx) ran out of memory (one buffer of 250,000,000,000 bytes = 232.8 GiB): use a"
                + " smaller image or fewer images at once", c.getMessage());
    }

    @Test
    void otherRunFailuresKeepOnnxRuntimesTextOnOneLineWithoutColours() {
        OrtException e = new OrtException(OrtErrorCode.ORT_FAIL, "\u001B[1;31mbad\n  thing\u001B[m");
        assertEquals("the VAE decoder network (x) failed in ONNX Runtime: bad thing", OrtErrors.run("the VAE decoder network (x)", e).getMessage());
    }

    @Test
    void aModelThatDoesNotParseIsTheUsersInput() {
        CycleDiffusionException c = OrtErrors.load("unet/model.onnx", new OrtException(OrtErrorCode.ORT_INVALID_PROTOBUF,
                "Load model from unet/model.onnx failed:Protobuf parsing failed."));
        assertInstanceOf(ConfigException.class, c);
        assertEquals("unet/model.onnx: not an ONNX model this ONNX Runtime can load; the file may be truncated or corrupt (export or"
                + " download it again) [Load model from unet/model.onnx failed:Protobuf parsing failed.]", c.getMessage());
        CycleDiffusionException engine = OrtErrors.load("unet/model.onnx", new OrtException(OrtErrorCode.ORT_EP_FAIL, "no device"));
        assertEquals("unet/model.onnx: ONNX Runtime cannot load it: no device", engine.getMessage());
    }

    @Test
    void logLevelIsQuietByDefaultAndCheckedWhenGiven() {
        String old = System.getProperty(OrtRuntime.LOG_LEVEL_PROPERTY);
        try {
            System.setProperty(OrtRuntime.LOG_LEVEL_PROPERTY, "Warning");
            assertEquals(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, OrtRuntime.logLevel());
            System.setProperty(OrtRuntime.LOG_LEVEL_PROPERTY, "loud");
            InvalidInputException e = assertThrows(InvalidInputException.class, OrtRuntime::logLevel);
            assertEquals("cyclediffusion.ort.log-level = loud: expected one of verbose, info, warning, error, fatal", e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty(OrtRuntime.LOG_LEVEL_PROPERTY);
            } else {
                System.setProperty(OrtRuntime.LOG_LEVEL_PROPERTY, old);
            }
        }
    }
}
