package org.cyclediffusion.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.cyclediffusion.core.batch.ItemResult;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The results table ({@code OUTPUT/results}, Parquet): the fields of {@code results.jsonl}, with
 * {@code parameters} as JSON text. Each run appends its rows; the last row of an id (by
 * {@code finished_at}) is its state.
 */
final class ResultTable {
    static final String NAME = "results";

    static final StructType TIMINGS = new StructType(new StructField[] {
        DataTypes.createStructField("prompt_encoding", DataTypes.DoubleType, false),
        DataTypes.createStructField("image_encoding", DataTypes.DoubleType, false),
        DataTypes.createStructField("steps", DataTypes.IntegerType, false),
        DataTypes.createStructField("mean_step", DataTypes.DoubleType, false),
        DataTypes.createStructField("decoding", DataTypes.DoubleType, false),
        DataTypes.createStructField("safety_checker", DataTypes.DoubleType, false),
        DataTypes.createStructField("total", DataTypes.DoubleType, false)});

    static final StructType SCHEMA = new StructType(new StructField[] {
        DataTypes.createStructField("id", DataTypes.StringType, true),
        DataTypes.createStructField("line", DataTypes.IntegerType, false),
        DataTypes.createStructField("status", DataTypes.StringType, false),
        DataTypes.createStructField("outputs", DataTypes.createArrayType(DataTypes.StringType, false), false),
        DataTypes.createStructField("nsfw", DataTypes.createArrayType(DataTypes.BooleanType, false), true),
        DataTypes.createStructField("seed", DataTypes.LongType, true),
        DataTypes.createStructField("elapsed_ms", DataTypes.DoubleType, false),
        DataTypes.createStructField("timings_ms", TIMINGS, true),
        DataTypes.createStructField("error", DataTypes.StringType, true),
        DataTypes.createStructField("parameters", DataTypes.StringType, true),
        DataTypes.createStructField("finished_at", DataTypes.StringType, false)});

    private ResultTable() {
    }

    static Row row(ItemResult r) {
        ItemResult.ItemTimings t = r.timings();
        Row timings = t == null ? null : RowFactory.create(t.promptEncoding(), t.imageEncoding(), t.steps(), t.meanStep(), t.decoding(),
                t.safetyChecker(), t.total());
        return RowFactory.create(r.id(), r.line(), r.status(), seq(r.outputs()), r.nsfw() == null ? null : seq(r.nsfw()), r.seed(),
                r.elapsedMs(), timings, r.error(), r.parameters() == null ? null : r.parameters().toString(), r.finishedAt());
    }

    private static <T> scala.collection.immutable.Seq<T> seq(List<T> l) {
        return CollectionConverters.asScala(new ArrayList<>(l)).toList();
    }
}
