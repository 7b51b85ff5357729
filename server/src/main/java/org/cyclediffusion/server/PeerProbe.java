package org.cyclediffusion.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;

/**
 * Tells whether the client of a request whose body has been read completely has closed its
 * connection. Jetty does not read a connection while its request is handled, so a client that
 * leaves during a long edit goes unnoticed until the answer is written; this reads (at most one
 * byte) from the connection to see the end of stream. A client that pipelines another request
 * behind the edit would lose that byte: then probing stops and the connection is closed after the
 * answer ({@link #sentMore}), so the pipelined request fails cleanly instead of being misread.
 */
final class PeerProbe {
    private final EndPoint endPoint;
    private final ByteBuffer one = BufferUtil.allocate(1);
    private boolean gone;
    private boolean sentMore;

    PeerProbe(Request request) {
        this.endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
    }

    /** True once the client has closed its side (or the connection broke). */
    boolean gone() {
        if (gone || sentMore) {
            return gone;
        }
        try {
            int n = endPoint.fill(one);
            if (n < 0) {
                gone = true;
            } else if (n > 0) {
                sentMore = true;
            }
        } catch (IOException e) {
            gone = true;
        }
        return gone;
    }

    /** The client sent bytes after its request (pipelining): the connection must close after the answer. */
    boolean sentMore() {
        return sentMore;
    }
}
