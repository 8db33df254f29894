// Runs pipeline snippets against a shared library's vars/ the way Jenkins does, with the pipeline
// steps the library uses stubbed: each vars/NAME.groovy is compiled as a script whose `call` is what
// `NAME(...)` runs, and steps resolve through the script's binding.
//
// usage: groovy -cp tests/jenkins/lib run_pipelines.groovy SPEC.json RESULTS.json
//
// SPEC: {"library": dir, "describe": var name or null,
//        "builds": [{"name", "workspace", "log", "env": {NAME: value or null to unset},
//                    "params": {...}, "pipeline": groovy text}]}
// RESULTS: {"describe": {...} or null,
//           "builds": {name: {"result": SUCCESS|UNSTABLE|FAILURE, "value": the pipeline's value,
//                             "error": the error step's message or null, "exception": class or null,
//                             "seconds": how long the pipeline ran}}}
//
// The stubs behave like the real steps where the library depends on it: `sh` writes the script
// to a file in the workspace's @tmp dir and runs it (directly when it has a #! line, else with
// `sh -xe`, as Jenkins does) in a real process with the withEnv environment, streams its output to
// the build log, honours returnStdout/returnStatus and fails on a non-zero exit otherwise; `error`
// throws; `unstable` marks the build; `pwd(tmp: true)` is the @tmp sibling of the current dir.
// Every `sh` logs "[stub] sh pid N" so a test can signal the process like an aborted build does.

import groovy.json.JsonOutput
import groovy.json.JsonSlurper

/** What the `error` step throws (hudson.AbortException in Jenkins). */
class AbortException extends RuntimeException {
    AbortException(String message) {
        super(message)
    }
}

/** One build: its log, environment layers, current directory and result. */
class Build {
    final Writer log
    final Map<String, String> globalEnv
    final List<Map<String, String>> envLayers = []
    File cwd
    String result = 'SUCCESS'
    int scripts = 0

    Build(File logFile, Map<String, String> env, File workspace) {
        log = logFile.newWriter('UTF-8')
        globalEnv = new LinkedHashMap<String, String>(env)
        cwd = workspace
    }

    synchronized void write(String text) {
        log.write(text)
        log.flush()
    }

    void line(String text) {
        write(text + '\n')
    }

    Map<String, String> environment() {
        Map<String, String> effective = new LinkedHashMap<String, String>(globalEnv)
        envLayers.each { effective.putAll(it) }
        return effective
    }

    File resolve(String path) {
        File file = new File(path)
        return file.absolute ? file : new File(cwd, path)
    }

    void worsen(String to) {
        List order = ['SUCCESS', 'UNSTABLE', 'FAILURE']
        if (order.indexOf(to) > order.indexOf(result)) {
            result = to
        }
    }
}

/** `env`: reads see withEnv layers, writes go to the build's global environment. */
class EnvAction {
    final Build build

    EnvAction(Build build) {
        this.build = build
    }

    Object getProperty(String name) {
        return build.environment().get(name)
    }

    void setProperty(String name, Object value) {
        build.globalEnv.put(name, String.valueOf(value))
    }
}

/** `currentBuild`: result can only get worse, as in Jenkins. */
class RunWrapper {
    final Build build

    RunWrapper(Build build) {
        this.build = build
    }

    String getResult() {
        return build.result == 'SUCCESS' ? null : build.result
    }

    void setResult(String result) {
        build.worsen(result)
    }

    String getCurrentResult() {
        return build.result
    }
}

void pump(InputStream input, Build build) {
    input.withReader('UTF-8') { reader ->
        char[] buffer = new char[4096]
        int count
        while ((count = reader.read(buffer)) >= 0) {
            build.write(new String(buffer, 0, count))
        }
    }
}

Object sh(Build build, Object arguments) {
    Map options = arguments instanceof Map ? arguments : [script: arguments]
    Set known = ['script', 'returnStdout', 'returnStatus', 'label', 'encoding'] as Set
    Set unknown = options.keySet() - known
    if (unknown) {
        throw new IllegalArgumentException("sh: unknown parameters ${unknown}")
    }
    if (options.returnStdout && options.returnStatus) {
        throw new IllegalArgumentException('sh: returnStdout and returnStatus are mutually exclusive')
    }
    String script = options.script
    build.cwd.mkdirs()  // as Jenkins does for a dir() that does not exist yet
    File control = new File(build.cwd.path + '@tmp', "durable-${++build.scripts}")
    control.mkdirs()
    File file = new File(control, 'script.sh')
    file.setText(script, 'UTF-8')
    List command
    if (script.startsWith('#!')) {
        file.setExecutable(true)
        command = [file.path]
    } else {
        command = ['sh', '-xe', file.path]
    }
    build.line(options.label ? "[Pipeline] sh (${options.label})" : '[Pipeline] sh')
    ProcessBuilder builder = new ProcessBuilder(command).directory(build.cwd)
    builder.environment().clear()
    builder.environment().putAll(build.environment())
    builder.redirectErrorStream(!options.returnStdout)
    Process process = builder.start()
    build.line("[stub] sh pid ${process.pid()}")
    process.outputStream.close()
    StringBuilder stdout = new StringBuilder()
    List<Thread> readers = []
    if (options.returnStdout) {
        readers << Thread.start { stdout.append(process.inputStream.getText('UTF-8')) }
        readers << Thread.start { pump(process.errorStream, build) }
    } else {
        readers << Thread.start { pump(process.inputStream, build) }
    }
    int code = process.waitFor()
    readers*.join()
    if (options.returnStatus) {
        return code
    }
    if (code != 0) {
        throw new AbortException("script returned exit code ${code}")
    }
    return options.returnStdout ? stdout.toString() : null
}

Binding bindingFor(Build build, Map params) {
    Binding binding = new Binding()
    binding.setVariable('env', new EnvAction(build))
    binding.setVariable('currentBuild', new RunWrapper(build))
    binding.setVariable('params', params.asImmutable())
    binding.setVariable('echo', { Object message -> build.line(String.valueOf(message)) })
    binding.setVariable('error', { Object message -> throw new AbortException(String.valueOf(message)) })
    binding.setVariable('unstable', { Object message ->
        build.line("WARNING: ${message}")
        build.worsen('UNSTABLE')
    })
    binding.setVariable('sh', { Object arguments -> sh(build, arguments) })
    binding.setVariable('withEnv', { List entries, Closure body ->
        Map<String, String> layer = [:]
        entries.each { entry ->
            String text = String.valueOf(entry)
            int equals = text.indexOf('=')
            if (equals < 1) {
                throw new IllegalArgumentException("withEnv: expected NAME=value, got '${text}'")
            }
            layer.put(text.substring(0, equals), text.substring(equals + 1))
        }
        build.envLayers.add(layer)
        try {
            return body()
        } finally {
            build.envLayers.remove(build.envLayers.size() - 1)
        }
    })
    binding.setVariable('dir', { String path, Closure body ->
        File previous = build.cwd
        build.cwd = build.resolve(path)
        try {
            return body()
        } finally {
            build.cwd = previous
        }
    })
    binding.setVariable('deleteDir', { -> build.cwd.deleteDir() })
    binding.setVariable('pwd', { Map options = [:] ->
        options.tmp ? build.cwd.path + '@tmp' : build.cwd.path
    })
    binding.setVariable('fileExists', { String path -> build.resolve(path).exists() })
    binding.setVariable('readFile', { Object arguments ->
        Map options = arguments instanceof Map ? arguments : [file: arguments]
        build.resolve(options.file).getText(options.encoding ?: 'UTF-8')
    })
    return binding
}

Map runBuild(File library, Map spec) {
    Map<String, String> env = new LinkedHashMap<String, String>(System.getenv())
    spec.env.each { name, value -> value == null ? env.remove(name) : env.put(name, String.valueOf(value)) }
    File workspace = new File(spec.workspace)
    workspace.mkdirs()
    env.put('WORKSPACE', workspace.path)
    Build build = new Build(new File(spec.log), env, workspace)
    Binding binding = bindingFor(build, spec.params ?: [:])
    GroovyShell shell = new GroovyShell(this.class.classLoader, binding)
    new File(library, 'vars').listFiles().findAll { it.name.endsWith('.groovy') }.each { file ->
        Script variable = shell.parse(file)
        binding.setVariable(file.name - '.groovy', { Object[] arguments -> variable.invokeMethod('call', arguments) })
    }
    Map outcome = [value: null, error: null, exception: null]
    long started = System.nanoTime()
    try {
        outcome.value = shell.evaluate(spec.pipeline, "${spec.name}.Jenkinsfile")
    } catch (AbortException abort) {
        build.line("ERROR: ${abort.message}")
        outcome.error = abort.message
        build.worsen('FAILURE')
    } catch (Exception other) {
        StringWriter trace = new StringWriter()
        other.printStackTrace(new PrintWriter(trace))
        build.write(trace.toString())
        outcome.exception = other.class.name
        outcome.error = other.message
        build.worsen('FAILURE')
    }
    outcome.seconds = (System.nanoTime() - started) / 1e9
    build.line("Finished: ${build.result}")
    build.log.close()
    outcome.result = build.result
    return outcome
}

// The named var's defaultConfig, as its own code turns each value into environment text.
Map describe(File library, String name) {
    Script variable = new GroovyShell(this.class.classLoader, new Binding()).parse(new File(library, "vars/${name}.groovy"))
    List keys = variable.defaultConfig.collect { key, value ->
        [name: key, type: value == null ? null : value.class.simpleName, text: variable.envText(value), env: variable.envName(key)]
    }
    return [keys: keys, cliVersion: variable.CLI_VERSION, commands: variable.COMMANDS, stepKeys: variable.STEP_KEYS,
            timeoutResults: variable.TIMEOUT_RESULTS,
            scripts: [FIND_SCRIPT: variable.FIND_SCRIPT, RUN_SCRIPT: variable.RUN_SCRIPT]]
}

Map spec = new JsonSlurper().parse(new File(args[0]), 'UTF-8')
File library = new File(spec.library)
Map results = [describe: spec.describe ? describe(library, spec.describe) : null, builds: [:]]
spec.builds.each { build -> results.builds[build.name] = runBuild(library, build) }
new File(args[1]).setText(JsonOutput.toJson(results), 'UTF-8')
