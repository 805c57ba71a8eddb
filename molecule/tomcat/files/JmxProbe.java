// A JMX client for the Molecule verification: connects to a Tomcat's remote JMX port the way a
// monitoring system does and prints the server's version (MBean Catalina:type=Server, serverInfo).
// Usage: java JmxProbe.java HOST PORT, credentials from JMX_USER / JMX_PASSWORD when set.
import java.util.HashMap;
import java.util.Map;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class JmxProbe {
    public static void main(String[] args) throws Exception {
        JMXServiceURL url = new JMXServiceURL(
                "service:jmx:rmi:///jndi/rmi://" + args[0] + ":" + args[1] + "/jmxrmi");
        Map<String, Object> environment = new HashMap<>();
        String user = System.getenv("JMX_USER");
        if (user != null) {
            environment.put(JMXConnector.CREDENTIALS,
                    new String[] {user, System.getenv("JMX_PASSWORD")});
        }
        try (JMXConnector connector = JMXConnectorFactory.connect(url, environment)) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            System.out.println(server.getAttribute(new ObjectName("Catalina:type=Server"), "serverInfo"));
        }
    }
}
