package org.trackflow.flink;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Strings -> arrays of consecutive strings: up to {@code maxRecords} records or {@code maxChars} characters,
 * whichever comes first, and never held longer than {@code maxDelayMs}. Put before a Python operator, it makes one
 * JVM-to-Python crossing carry hundreds of Kafka messages instead of one: in PyFlink that crossing, not the Python
 * work per event, is what a small message costs.
 *
 * <p>Holds no state: the buffer is emitted before every checkpoint barrier ({@link #prepareSnapshotPreBarrier}), so a
 * checkpoint never covers a record that is still here, and a restore replays exactly what was not yet emitted.
 * Meant for streams without event-time watermarks (the jobs use none): a watermark would overtake held records.
 */
public class MicroBatcher extends AbstractStreamOperator<String[]> implements OneInputStreamOperator<String, String[]> {
    private static final long serialVersionUID = 1L;

    private final int maxRecords;
    private final int maxChars;
    private final long maxDelayMs;

    private transient List<String> buffer;
    private transient int bufferedChars;
    private transient boolean timerPending;

    public MicroBatcher(int maxRecords, int maxChars, long maxDelayMs) {
        this.maxRecords = maxRecords;
        this.maxChars = maxChars;
        this.maxDelayMs = maxDelayMs;
    }

    @Override
    public void open() throws Exception {
        super.open();
        buffer = new ArrayList<>(maxRecords);
    }

    @Override
    public void processElement(StreamRecord<String> element) throws Exception {
        String value = element.getValue();
        buffer.add(value);
        bufferedChars += value.length();
        if (buffer.size() >= maxRecords || bufferedChars >= maxChars) {
            emit();
        } else if (!timerPending) {
            timerPending = true;
            long due = getProcessingTimeService().getCurrentProcessingTime() + maxDelayMs;
            getProcessingTimeService().registerTimer(due, time -> {
                timerPending = false;
                emit();
            });
        }
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        emit();
    }

    @Override
    public void finish() throws Exception {
        emit();
        super.finish();
    }

    private void emit() {
        if (buffer.isEmpty()) {
            return;
        }
        output.collect(new StreamRecord<>(buffer.toArray(new String[0])));
        buffer.clear();
        bufferedChars = 0;
    }
}
