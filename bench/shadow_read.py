"""Times the shadow comparison's read (`SqliteStore::visit_shadow_pairs`'s SQL) on 200,000
predictions of one component, a shadow on every SHARE-th: through the component's time index,
then through migration 7's partial index of shadow rows. SQLite through Python's sqlite3, on
the store's schema and page size; rein's read is the same statement.

    python3 bench/shadow_read.py 100   # a 1% shadow
    python3 bench/shadow_read.py 2     # a 50% shadow
"""
import sqlite3, time, os, json, random, uuid
path="/tmp/rein-shadow-read.db"
if os.path.exists(path): os.remove(path)
c=sqlite3.connect(path)
c.execute("PRAGMA page_size=16384"); c.execute("PRAGMA journal_mode=WAL")
c.executescript("""CREATE TABLE predictions (id TEXT NOT NULL PRIMARY KEY, time_ms INTEGER NOT NULL, system TEXT NOT NULL, component TEXT NOT NULL, unit TEXT, model_name TEXT NOT NULL, model_version TEXT NOT NULL, variant TEXT NOT NULL DEFAULT 'main', features TEXT NOT NULL, raw_output TEXT NOT NULL, guardrails TEXT NOT NULL, output TEXT NOT NULL, mode TEXT NOT NULL, decision TEXT NOT NULL, fallback INTEGER NOT NULL, latency_us INTEGER NOT NULL, fallback_error TEXT, experiment TEXT, shadow_of TEXT);
CREATE INDEX predictions_component_time ON predictions (component, time_ms, id);
CREATE INDEX predictions_time ON predictions (time_ms, id);""")
feat=json.dumps({f"f{i}":random.random() for i in range(20)})
out=json.dumps({"label":"fraud","score":0.7,"probabilities":{"legit":0.3,"fraud":0.7}})
N=200_000
import sys
SHARE=int(sys.argv[1])
rows=[]
for i in range(N):
    aid=str(uuid.uuid7()) if hasattr(uuid,'uuid7') else f"{i:012d}-a"
    t=1_000_000+i*10
    rows.append((aid,t,'s','c','u','m','v1','main',feat,out,'[]',out,'automate','{}',0,100,None,'e',None))
    if i%SHARE==0:
        rows.append((aid+'-s',t,'s','c','u','m','v2','shadow',feat,out,'[]',out,'none','{}',0,100,None,'e',aid))
c.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",rows); c.commit()
cols="id,time_ms,system,component,unit,model_name,model_version,variant,features,raw_output,guardrails,output,mode,decision,fallback_error,latency_us,experiment,shadow_of"
s_cols=",".join("s."+x for x in cols.split(",")); a_cols=",".join("a."+x for x in cols.split(","))
sql=f"""SELECT {s_cols}, {a_cols} FROM predictions s LEFT JOIN predictions a ON a.id = s.shadow_of
 WHERE s.component = ?1 AND s.time_ms >= ?2 AND s.time_ms < ?3 AND s.shadow_of IS NOT NULL AND (?4 IS NULL OR s.experiment = ?4)
 ORDER BY s.time_ms, s.id"""
def run(label):
    for _ in range(2):
        t=time.perf_counter(); n=sum(1 for _ in c.execute(sql,('c',0,10**12,None))); d=time.perf_counter()-t
    print(label, n, "pairs", f"{d*1000:.0f} ms", f"{d/n*1e6:.2f} µs/pair")
    print("  ", [r[3] for r in c.execute("EXPLAIN QUERY PLAN "+sql,('c',0,1,None))])
run("no index of its own:")
c.execute("CREATE INDEX predictions_shadows ON predictions (component, time_ms, id) WHERE shadow_of IS NOT NULL"); c.commit()
run("with a partial index on shadows:")
