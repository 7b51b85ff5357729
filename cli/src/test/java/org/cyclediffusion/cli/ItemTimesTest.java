package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ItemTimesTest {
    @Test
    void etaComesFromTheMedianNotTheMean() {
        ItemTimes t = new ItemTimes();
        assertTrue(t.eta(5, 0).isEmpty(), "no estimate before the first item");
        t.add(60_000); // a slow first item (warm-up)
        t.add(1_000);
        t.add(2_000);
        assertEquals(2_000, t.median().orElseThrow());
        // 4 items left, the current one 500 ms in: 4 × 2 s − 0.5 s.
        assertEquals(Duration.ofMillis(7_500), t.eta(4, 500).orElseThrow());
        // An item running longer than the median counts as nearly done, never as negative time.
        assertEquals(Duration.ZERO, t.eta(1, 10_000).orElseThrow());
        t.add(3_000);
        assertEquals(2_500, t.median().orElseThrow());
        assertEquals("1:01:01", ItemTimes.format(Duration.ofSeconds(3661)));
        assertEquals("2:05", ItemTimes.format(Duration.ofSeconds(125)));
    }
}
