package org.cyclediffusion.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One edit on its way through the queue: its state, its progress, and its result or error. State
 * changes are pushed to subscribers (the events stream) as {@link JobEvent}s.
 */
final class Job {
    enum State {
        QUEUED, RUNNING, DONE, FAILED, CANCELLED;

        boolean terminal() {
            return this == DONE || this == FAILED || this == CANCELLED;
        }

        String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What a subscriber sees: an SSE event name and its JSON data. */
    record JobEvent(String name, ObjectNode data) {
        boolean terminal() {
            return name.equals("done") || name.equals("failed") || name.equals("cancelled");
        }
    }

    private final String id;
    private final EditSpec spec;
    private final List<Consumer<JobEvent>> subscribers = new CopyOnWriteArrayList<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile boolean cancelRequested;
    private State state = State.QUEUED;
    private int step;
    private int total;
    private ObjectNode result;
    private ApiException error;

    Job(String id, EditSpec spec) {
        this.id = id;
        this.spec = spec;
    }

    String id() {
        return id;
    }

    EditSpec spec() {
        return spec;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    /** Asks the edit to stop at its next step (or not to start); false when it had already ended. */
    boolean cancel() {
        synchronized (this) {
            if (state.terminal()) {
                return false;
            }
            cancelRequested = true;
        }
        return true;
    }

    synchronized State state() {
        return state;
    }

    void started() {
        publish(() -> {
            state = State.RUNNING;
            return new JobEvent("running", snapshot(false));
        });
    }

    void stepped(int done, int of, int timestep) {
        publish(() -> {
            step = done;
            total = of;
            ObjectNode d = snapshot(false);
            d.put("timestep", timestep);
            return new JobEvent("step", d);
        });
    }

    void succeeded(ObjectNode r) {
        publish(() -> {
            result = r;
            state = State.DONE;
            step = total;
            return new JobEvent("done", snapshot(true));
        });
    }

    void failed(ApiException e) {
        publish(() -> {
            error = e;
            state = State.FAILED;
            return new JobEvent("failed", snapshot(false));
        });
    }

    void cancelled() {
        publish(() -> {
            state = State.CANCELLED;
            return new JobEvent("cancelled", snapshot(false));
        });
    }

    private void publish(java.util.function.Supplier<JobEvent> change) {
        JobEvent e;
        synchronized (this) {
            if (state.terminal()) {
                return;
            }
            e = change.get();
        }
        for (Consumer<JobEvent> s : subscribers) {
            s.accept(e);
        }
        if (e.terminal()) {
            finished.countDown();
        }
    }

    /**
     * Subscribes to future events and returns the current state as an event, atomically with
     * respect to changes, so that a subscriber misses nothing and sees nothing twice.
     */
    synchronized JobEvent subscribe(Consumer<JobEvent> subscriber) {
        subscribers.add(subscriber);
        String name = switch (state) {
            case QUEUED -> "queued";
            case RUNNING -> "state";
            case DONE -> "done";
            case FAILED -> "failed";
            case CANCELLED -> "cancelled";
        };
        return new JobEvent(name, snapshot(state == State.DONE));
    }

    void unsubscribe(Consumer<JobEvent> subscriber) {
        subscribers.remove(subscriber);
    }

    boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return finished.await(timeout, unit);
    }

    synchronized ObjectNode result() {
        return result;
    }

    synchronized ApiException error() {
        return error;
    }

    /** {@code GET /api/jobs/{id}}: state, step/total, and the result or error once there. */
    synchronized ObjectNode snapshot(boolean withResult) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("id", id);
        n.put("state", state.json());
        n.put("step", step);
        n.put("total", total);
        n.put("seed", spec.seed());
        if (withResult && result != null) {
            n.set("result", result);
        }
        if (error != null) {
            n.put("error", error.getMessage());
            n.put("field", error.field());
            n.put("status", error.status());
        }
        return n;
    }
}
