package org.cyclediffusion.ddpm;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.ddim.DdimConfig;

/**
 * The constructor arguments of diffusers v0.23.0 {@code DDPMScheduler}. Every key but
 * {@code variance_type} is one DDIM has too, with the same default and meaning, so they are read
 * (and checked, naming the file) by {@link DdimConfig}; DDIM's own keys ({@code set_alpha_to_one})
 * have no effect here.
 *
 * @param shared       the keys DDPM shares with DDIM
 * @param varianceType σ_t² of the reverse step
 */
public record DdpmConfig(DdimConfig shared, VarianceType varianceType) {
    public DdpmConfig {
        Objects.requireNonNull(shared, "shared");
        Objects.requireNonNull(varianceType, "varianceType");
    }

    /** Reads a config written for DDPM or, as diffusers' {@code from_config}, for another scheduler class. */
    public static DdpmConfig from(JsonConfig config) {
        String name = config.getString("variance_type", VarianceType.FIXED_SMALL.configName());
        VarianceType variance = VarianceType.parse(name)
                .orElseThrow(() -> config.unsupported("variance_type", "'" + name + "'", VarianceType.ACCEPTED));
        if (config.getBoolean("rescale_betas_zero_snr", false)) {
            throw config.unsupported("rescale_betas_zero_snr", true, "false (DDPMScheduler v0.23.0 has no zero-SNR rescaling)");
        }
        return new DdpmConfig(DdimConfig.from(config), variance);
    }

    /** The effective configuration in diffusers' key names. */
    public ObjectNode toJson() {
        ObjectNode n = shared.toJson();
        n.remove("set_alpha_to_one");
        n.remove("rescale_betas_zero_snr");
        n.put("variance_type", varianceType.configName());
        return n;
    }
}
