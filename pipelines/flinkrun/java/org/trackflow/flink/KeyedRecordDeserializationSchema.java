package org.trackflow.flink;

import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * A Kafka record -> Row(key, value) of strings (an absent key is ""). The shape PyFlink's KeyedStream is built from,
 * so a job can key by the Kafka key without a Python key selector, which would be an extra Python step per record.
 */
public class KeyedRecordDeserializationSchema implements KafkaRecordDeserializationSchema<Row> {
    private static final long serialVersionUID = 1L;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Row> out) {
        String key = record.key() == null ? "" : new String(record.key(), StandardCharsets.UTF_8);
        String value = record.value() == null ? "" : new String(record.value(), StandardCharsets.UTF_8);
        out.collect(Row.of(key, value));
    }

    @Override
    public TypeInformation<Row> getProducedType() {
        return Types.ROW(Types.STRING, Types.STRING);
    }
}
