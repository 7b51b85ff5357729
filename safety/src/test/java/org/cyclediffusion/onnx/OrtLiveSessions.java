package org.cyclediffusion.onnx;

/**
 * Test access to the ONNX backend's count of open sessions, for the safety module's loader tests:
 * a load that fails after the backend opened its sessions must leave the count where it was.
 */
public final class OrtLiveSessions {
    private OrtLiveSessions() {
    }

    public static int count() {
        return OrtNetwork.LIVE_SESSIONS.get();
    }
}
