package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.spi.SafetyVerdict;

/** {@code edit --json}: one object with the outputs, their nsfw flags, the parameters and the timings. */
final class JsonReport {
    private JsonReport() {
    }

    static String of(EditResult result, OutputTarget target, EditProvenance provenance) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ArrayNode outs = root.putArray("outputs");
        boolean npy = target.format() == OutputTarget.Format.NPY;
        int n = npy ? result.imagesNp().dim(0) : result.images().size();
        List<SafetyVerdict> verdicts = result.verdicts().orElse(null);
        for (int i = 0; i < n; i++) {
            ObjectNode o = outs.addObject();
            o.put("path", (npy ? target.paths().get(0) : target.paths().get(i)).toString());
            o.put("index", i);
            if (verdicts == null) {
                o.putNull("nsfw");
            } else {
                o.put("nsfw", verdicts.get(i).nsfw());
            }
        }
        root.put("format", target.format().extension);
        root.set("parameters", provenance.parameters());
        ObjectNode t = root.putObject("timings_ms");
        t.put("prompt_encoding", result.timings().promptMillis());
        t.put("image_encoding", result.timings().encodeMillis());
        t.put("steps", result.timings().stepsMillis().length);
        t.put("mean_step", result.timings().meanStepMillis());
        t.put("decoding", result.timings().decodeMillis());
        t.put("safety_checker", result.timings().safetyMillis());
        t.put("total", result.timings().totalMillis());
        return root.toString();
    }
}
