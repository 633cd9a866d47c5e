"""A local twin of the synthesized platform: both regions on one machine, from cdktf.out only.

Layers (docs/twin.md says what each one is: real, simulated, or not built yet):

* :mod:`twin.model`     reads cdktf.out/stacks/*/cdk.tf.json and resolves its references;
* :mod:`twin.provision` creates the data/control plane on one moto server (127.0.0.1);
* :mod:`twin.functions` runs each Lambda function from its synthesized package, one worker
  process per function per region (:mod:`twin.worker`), with the JSON's timeout enforced;
* :mod:`twin.apigw`     serves each region's API Gateway REST API over HTTP on 127.0.0.1;
* :mod:`twin.replication` copies items, objects and secret values between regions (simulated);
* :mod:`twin.core`      puts them together (:class:`twin.core.Twin`); ``python -m twin up``.
"""
