package org.cyclediffusion.server;

import java.util.List;
import org.cyclediffusion.core.pipeline.EditRequest;

/**
 * One accepted edit: the request (without a progress listener; the queue adds its own), the
 * uploads' names for the PNG provenance, and the seed actually used.
 */
record EditSpec(EditRequest.Builder request, List<String> imageNames, long seed) {
}
