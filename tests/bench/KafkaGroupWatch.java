// KafkaGroupWatch: one consumer group's lag on one topic, once a second, as
// JSON lines on stdout, read with Kafka's own AdminClient (the same method
// for every side bench_autoscale_keda.py compares). A JVM per sample would
// cost more CPU than what is measured, so this runs once for a whole run:
//
//   java -cp "$KAFKA_LIBS/*" tests/bench/KafkaGroupWatch.java BOOTSTRAP TOPIC GROUP
//
// Each line: {"t": epoch seconds, "lag": messages, "end": sum of the end
// offsets, "members": consumers in the group, "state": the group's state}.
// A partition the group never committed counts from its earliest offset
// (the workers' auto.offset.reset). A failed sample prints {"t":..,"error":..}.
// Stops when stdin closes.
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;

public class KafkaGroupWatch {
	public static void main(String[] args) throws Exception {
		if (args.length != 3) {
			System.err.println("usage: KafkaGroupWatch BOOTSTRAP TOPIC GROUP");
			System.exit(2);
		}
		String topic = args[1], group = args[2];
		Properties p = new Properties();
		p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
		p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
		p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
		Thread stdin = new Thread(() -> {
			try {
				while (System.in.read() >= 0) {
				}
			} catch (Exception e) {
			}
			System.exit(0);
		});
		stdin.setDaemon(true);
		stdin.start();
		try (Admin admin = Admin.create(p)) {
			int n = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS)
			            .get(topic).partitions().size();
			ListOffsetsOptions opts = new ListOffsetsOptions(IsolationLevel.READ_COMMITTED);
			long next = System.currentTimeMillis();
			while (true) {
				long t = System.currentTimeMillis();
				try {
					Map<TopicPartition, OffsetSpec> latest = new HashMap<>(), earliest = new HashMap<>();
					for (int i = 0; i < n; i++) {
						latest.put(new TopicPartition(topic, i), OffsetSpec.latest());
						earliest.put(new TopicPartition(topic, i), OffsetSpec.earliest());
					}
					var endF = admin.listOffsets(latest, opts).all();
					var startF = admin.listOffsets(earliest, opts).all();
					var comF = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata();
					var descF = admin.describeConsumerGroups(List.of(group)).all();
					var end = endF.get(5, TimeUnit.SECONDS);
					var start = startF.get(5, TimeUnit.SECONDS);
					Map<TopicPartition, OffsetAndMetadata> com = comF.get(5, TimeUnit.SECONDS);
					ConsumerGroupDescription d = descF.get(5, TimeUnit.SECONDS).get(group);
					long lag = 0, endSum = 0;
					for (var e : end.entrySet()) {
						long hi = e.getValue().offset();
						OffsetAndMetadata c = com.get(e.getKey());
						long pos = Math.max(c == null ? 0 : c.offset(), start.get(e.getKey()).offset());
						lag += Math.max(0, hi - pos);
						endSum += hi;
					}
					System.out.printf("{\"t\":%.3f,\"lag\":%d,\"end\":%d,\"members\":%d,\"state\":\"%s\"}%n",
					                  t / 1000.0, lag, endSum, d.members().size(), d.state());
				} catch (Exception e) {
					System.out.printf("{\"t\":%.3f,\"error\":\"%s\"}%n", t / 1000.0,
					                  String.valueOf(e.getMessage()).replace('"', '\''));
				}
				System.out.flush();
				next += 1000;
				long wait = next - System.currentTimeMillis();
				if (wait > 0)
					Thread.sleep(wait);
				else
					next = System.currentTimeMillis();
			}
		}
	}
}
