package org.trackflow.flink;

import java.nio.charset.StandardCharsets;

import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.types.Row;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Row(topic, key, value) of strings -> a Kafka record with that topic, key and value. PyFlink's own record
 * serializers cannot set a per-record key (their key schema serializes the whole element), and a Kafka key is what
 * keeps one person's events in one partition, in order. An empty key sends the record unkeyed.
 */
public class KeyedRecordSerializationSchema implements KafkaRecordSerializationSchema<Row> {
    private static final long serialVersionUID = 1L;

    @Override
    public ProducerRecord<byte[], byte[]> serialize(Row element, KafkaSinkContext context, Long timestamp) {
        String key = (String) element.getField(1);
        byte[] keyBytes = key == null || key.isEmpty() ? null : key.getBytes(StandardCharsets.UTF_8);
        byte[] value = ((String) element.getField(2)).getBytes(StandardCharsets.UTF_8);
        return new ProducerRecord<>((String) element.getField(0), null, keyBytes, value);
    }
}
