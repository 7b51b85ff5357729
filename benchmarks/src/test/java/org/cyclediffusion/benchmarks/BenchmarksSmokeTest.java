package org.cyclediffusion.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;

/**
 * Runs every benchmark method once, outside JMH, for every combination of its parameters: its
 * state set up as JMH would ({@code @Param} fields, then {@code @Setup}), the method invoked, the
 * state torn down. The benchmarks are the ones the annotation processor listed in
 * {@code META-INF/BenchmarkList}, so a new one is covered without being named here. A broken
 * benchmark (an exception, a non-finite result, a class without its baseline) fails CI; timing is
 * left to {@code java -jar benchmarks.jar}.
 */
class BenchmarksSmokeTest {
    private static final String BASELINE = "baselineCopy";

    @TestFactory
    List<DynamicTest> everyBenchmarkRunsOnce() throws IOException {
        List<BenchmarkListEntry> entries = listed();
        List<DynamicTest> tests = new ArrayList<>();
        for (BenchmarkListEntry e : entries) {
            Map<String, String[]> params = e.getParams().orElse(Map.of());
            for (Map<String, String> combination : combinations(params)) {
                tests.add(DynamicTest.dynamicTest(e.getUsername() + " " + combination, () -> runOnce(e, combination)));
            }
        }
        return tests;
    }

    /** Every benchmark class has its baseline, so that its figures can be read as ratios. */
    @TestFactory
    List<DynamicTest> everyBenchmarkClassHasABaseline() throws IOException {
        Set<String> classes = listed().stream().map(BenchmarkListEntry::getUserClassQName).collect(Collectors.toCollection(TreeSet::new));
        assertTrue(classes.size() >= 6, "expected the six benchmark classes in META-INF/BenchmarkList, found " + classes);
        return classes.stream()
                .map(c -> DynamicTest.dynamicTest(c, () -> assertNotNull(Class.forName(c).getMethod(BASELINE).getAnnotation(Benchmark.class),
                        c + "." + BASELINE + " is not a @Benchmark")))
                .toList();
    }

    private static List<BenchmarkListEntry> listed() throws IOException {
        try (InputStream in = BenchmarksSmokeTest.class.getResourceAsStream(BenchmarkList.BENCHMARK_LIST)) {
            assertNotNull(in, BenchmarkList.BENCHMARK_LIST + " is missing: the JMH annotation processor did not run");
            List<BenchmarkListEntry> entries = BenchmarkList.readBenchmarkList(in);
            assertFalse(entries.isEmpty(), "no benchmark listed");
            return entries;
        }
    }

    private static void runOnce(BenchmarkListEntry entry, Map<String, String> params) throws Exception {
        Class<?> type = Class.forName(entry.getUserClassQName());
        String name = entry.getUsername().substring(entry.getUsername().lastIndexOf('.') + 1);
        Method method = Arrays.stream(type.getMethods())
                .filter(m -> m.getName().equals(name) && m.isAnnotationPresent(Benchmark.class))
                .findFirst().orElseThrow(() -> new AssertionError("no @Benchmark " + entry.getUsername()));
        Map<Class<?>, Object> states = new LinkedHashMap<>();
        Object target = Modifier.isStatic(method.getModifiers()) ? null : state(type, params, states);
        Object[] args = new Object[method.getParameterCount()];
        Class<?>[] argTypes = method.getParameterTypes();
        for (int i = 0; i < args.length; i++) {
            args[i] = argTypes[i] == Blackhole.class
                    ? new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.")
                    : state(argTypes[i], params, states);
        }
        try {
            Object result = invoke(method, target, args);
            if (method.getReturnType() != void.class) {
                assertNotNull(result, entry.getUsername() + " returned null");
            }
            if (result instanceof FloatTensor t) {
                assertTrue(t.allFinite(), entry.getUsername() + " returned non-finite values");
            } else if (result instanceof float[] a) {
                assertTrue(new FloatTensor(a, a.length).allFinite(), entry.getUsername() + " returned non-finite values");
            }
        } finally {
            List<Object> reverse = new ArrayList<>(states.values());
            java.util.Collections.reverse(reverse);
            for (Object s : reverse) {
                fixtures(s, TearDown.class);
            }
        }
    }

    /** One instance per state class, its parameters set and its setup run, as JMH does for a thread. */
    private static Object state(Class<?> type, Map<String, String> params, Map<Class<?>, Object> states) throws Exception {
        Object existing = states.get(type);
        if (existing != null) {
            return existing;
        }
        assertNotNull(type.getAnnotation(State.class), type + " is used as a state but is not a @State");
        Object s = type.getConstructor().newInstance();
        for (Field f : type.getFields()) {
            if (f.isAnnotationPresent(Param.class)) {
                String v = params.get(f.getName());
                assertNotNull(v, "no value for @Param " + f.getName() + " of " + type.getName());
                f.set(s, convert(v, f.getType()));
            }
        }
        states.put(type, s);
        fixtures(s, Setup.class);
        return s;
    }

    /** Setup or teardown methods, trial level first, then iteration, then invocation (one call covers them all). */
    private static void fixtures(Object state, Class<? extends java.lang.annotation.Annotation> kind) throws Exception {
        for (Level level : Level.values()) {
            for (Method m : state.getClass().getMethods()) {
                java.lang.annotation.Annotation a = m.getAnnotation(kind);
                Level l = a instanceof Setup s ? s.value() : a instanceof TearDown t ? t.value() : null;
                if (l == level) {
                    invoke(m, state);
                }
            }
        }
    }

    private static Object invoke(Method m, Object target, Object... args) throws Exception {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    private static Object convert(String v, Class<?> type) {
        if (type == int.class) {
            return Integer.parseInt(v);
        }
        if (type == long.class) {
            return Long.parseLong(v);
        }
        if (type == String.class) {
            return v;
        }
        if (type.isEnum()) {
            return enumValue(type, v);
        }
        throw new AssertionError("@Param of type " + type + " is not handled by this test");
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object enumValue(Class<?> type, String v) {
        return Enum.valueOf((Class) type, v);
    }

    private static List<Map<String, String>> combinations(Map<String, String[]> params) {
        List<Map<String, String>> out = new ArrayList<>();
        out.add(new LinkedHashMap<>());
        for (Map.Entry<String, String[]> p : params.entrySet()) {
            List<Map<String, String>> next = new ArrayList<>();
            for (Map<String, String> partial : out) {
                for (String v : p.getValue()) {
                    Map<String, String> m = new LinkedHashMap<>(partial);
                    m.put(p.getKey(), v);
                    next.add(m);
                }
            }
            out = next;
        }
        assertEquals(params.values().stream().mapToInt(a -> a.length).reduce(1, (a, b) -> a * b), out.size());
        return out;
    }
}
