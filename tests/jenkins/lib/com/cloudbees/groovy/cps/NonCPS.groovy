package com.cloudbees.groovy.cps

import java.lang.annotation.ElementType
import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy
import java.lang.annotation.Target

// Stand-in for the Pipeline plugin's @NonCPS (workflow-cps): outside Jenkins every method runs
// natively, so the annotation only has to exist for vars/*.groovy to compile.
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@interface NonCPS {
}
