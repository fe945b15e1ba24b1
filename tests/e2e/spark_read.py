"""Read a newsbeam output with Spark exactly as a user would: ``spark.read.parquet(DIR)``.

Run by tests/e2e/test_demo_pipeline.py with the interpreter of ``.venv-spark``
(pyspark only, no newsbeam import); prints the columns and the rows'
(article_id, topic, date) as JSON.
"""
import json
import sys

from pyspark.sql import SparkSession

spark = (SparkSession.builder.master("local[1]").appName("newsbeam-reader-test")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
frame = spark.read.parquet(sys.argv[1])
types = {field.name: field.dataType.simpleString() for field in frame.schema.fields}
rows = [[r["article_id"], r["topic"], str(r["date"])] for r in frame.select("article_id", "topic", "date").collect()]
print(json.dumps({"columns": frame.columns, "types": types, "rows": rows}))
spark.stop()
