//! Tests of echo-plot's tables: one set per client, ratios within a client.

use super::*;

const HEAD: &str = "server,client,config,conns,size,round,req_s,p50_us,p99_us,p999_us,\
                    cpu_us_per_req,rss_base_kib,rss_kib,errors";

#[test]
fn each_client_has_its_own_tables_and_ratios() {
    let csv = format!(
        "{HEAD}\n\
         raw,uring,closed,50,64,1,25,1,2,3,,,,0\n\
         ringio,ringio,closed,50,64,1,100,1,2,3,,,,0\n\
         raw,ringio,closed,50,64,1,200,1,2,3,,,,0\n\
         ringio,uring,closed,50,64,1,50,1,2,3,,,,0\n\
         ringio,peer-idle,idle,10000,1,1,,,,,,1000,2000,0\n"
    );
    let runs = parse(&csv).expect("a valid CSV");
    let t = tables(&runs);
    let at = |what: &str| t.find(what).unwrap_or_else(|| panic!("no {what} in\n{t}"));
    let (ringio, uring, idle) = (
        at("#### client: ringio"),
        at("#### client: uring"),
        at("#### client: peer-idle"),
    );
    assert!(ringio < uring && uring < idle, "{t}");
    assert!(
        t[ringio..uring].contains("| 50 conns × 64 B | 100 | 200 (2.00×) |"),
        "{t}"
    );
    assert!(
        t[uring..idle].contains("| 50 conns × 64 B | 50.00 | 25.00 (0.50×) |"),
        "{t}"
    );
    assert!(!t[uring..idle].contains("fixed rate"), "{t}");
    assert!(!t[idle..].contains("closed loop"), "{t}");
    assert!(
        t[idle..].contains("| server RSS bytes/conn, 10000 idle conns | 102 |"),
        "{t}"
    );
}

#[test]
fn rows_without_a_client_column_are_echo_clients() {
    let csv = "server,config,conns,size,round,req_s,p50_us,p99_us,p999_us,\
               cpu_us_per_req,rss_base_kib,rss_kib,errors\n\
               ringio,closed,50,64,1,100,1,2,3,,,,0\n";
    let runs = parse(csv).expect("a CSV of before the client column");
    assert_eq!(clients(&runs), ["ringio"]);
}
