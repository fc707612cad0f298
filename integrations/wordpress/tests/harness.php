<?php
/**
 * Test harness, not part of the plugin: runs carechat.php's front-end code
 * path with just enough of WordPress to print the page's script tags.
 *
 * Usage: php harness.php '{"options": {...}, "admin": false, "wp_version": "6.8"}'
 *
 * It stores "options" as the carechat_options option, includes the plugin,
 * fires wp_enqueue_scripts as WordPress does while rendering a public page
 * (with "admin": true, as if something fired it on an admin screen, to
 * check the plugin's own is_admin() guard), then prints every enqueued
 * script the way WP_Scripts does, through the script_loader_tag filter,
 * one line each, prefixed with its group: "head: " or "footer: ". With no
 * script enqueued it prints nothing.
 *
 * The WordPress functions below follow core's behaviour for the arguments
 * the plugin passes (hooks by priority with accepted_args, get_option's
 * default, wp_enqueue_script's $args before and after 6.3, a null version
 * adding no ?ver=, esc_attr not double-encoding entities,
 * sanitize_hex_color). Any PHP warning or notice, or a call to a function
 * defined neither here nor in PHP, fails the run.
 *
 * @package Carechat
 */

error_reporting( E_ALL );
set_error_handler(
	static function ( $severity, $message, $file, $line ) {
		throw new ErrorException( $message, 0, $severity, $file, $line );
	}
);

if ( $argc < 2 ) {
	fwrite( STDERR, "usage: php harness.php '<scenario json>'\n" );
	exit( 2 );
}
$harness_scenario = json_decode( $argv[1], true );
if ( ! is_array( $harness_scenario ) ) {
	fwrite( STDERR, "harness: the scenario is not a JSON object\n" );
	exit( 2 );
}

define( 'ABSPATH', __DIR__ . '/' );

$harness_options   = array();
$harness_filters   = array();
$harness_scripts   = array();
$harness_is_admin  = ! empty( $harness_scenario['admin'] );
$harness_wpversion = isset( $harness_scenario['wp_version'] ) ? (string) $harness_scenario['wp_version'] : '6.8';
if ( isset( $harness_scenario['options'] ) ) {
	$harness_options['carechat_options'] = $harness_scenario['options'];
}

/*
 * Hooks.
 */

function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	global $harness_filters;
	$harness_filters[ $hook ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}

function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_filter( $hook, $callback, $priority, $accepted_args );
}

function apply_filters( $hook, $value, ...$args ) {
	global $harness_filters;
	if ( empty( $harness_filters[ $hook ] ) ) {
		return $value;
	}
	$by_priority = $harness_filters[ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted_args ) ) {
			$value = call_user_func_array( $callback, array_slice( array_merge( array( $value ), $args ), 0, $accepted_args ) );
		}
	}
	return $value;
}

function do_action( $hook, ...$args ) {
	global $harness_filters;
	if ( empty( $harness_filters[ $hook ] ) ) {
		return;
	}
	$by_priority = $harness_filters[ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted_args ) ) {
			call_user_func_array( $callback, array_slice( $args, 0, $accepted_args ) );
		}
	}
}

/*
 * Environment.
 */

function get_option( $option, $default_value = false ) {
	global $harness_options;
	return array_key_exists( $option, $harness_options ) ? $harness_options[ $option ] : $default_value;
}

function is_admin() {
	global $harness_is_admin;
	return $harness_is_admin;
}

function get_bloginfo( $show = '' ) {
	global $harness_wpversion;
	if ( 'version' !== $show ) {
		throw new LogicException( "harness: get_bloginfo( '$show' ) is not emulated" );
	}
	return $harness_wpversion;
}

function plugin_basename( $file ) {
	return basename( dirname( $file ) ) . '/' . basename( $file );
}

function wp_parse_url( $url, $component = -1 ) {
	return parse_url( $url, $component ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url
}

/*
 * Formatting.
 */

function esc_attr( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8', false );
}

function esc_url( $url ) {
	$url = trim( (string) $url );
	if ( '' === $url ) {
		return '';
	}
	$url    = preg_replace( '|[^a-z0-9-~+_.?#=!&;,/:%@$\|*\'()\[\]\\x80-\\xff]|i', '', $url );
	$scheme = strtolower( (string) parse_url( $url, PHP_URL_SCHEME ) ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url
	if ( ! in_array( $scheme, array( 'http', 'https' ), true ) ) {
		return '';
	}
	return str_replace( array( '&', "'" ), array( '&#038;', '&#039;' ), $url );
}

function sanitize_hex_color( $color ) {
	if ( '' === $color ) {
		return '';
	}
	if ( preg_match( '|^#([A-Fa-f0-9]{3}){1,2}$|', $color ) ) {
		return $color;
	}
	return null;
}

/*
 * Scripts.
 */

function wp_enqueue_script( $handle, $src = '', $deps = array(), $ver = false, $args = array() ) {
	global $harness_scripts, $harness_wpversion;
	if ( version_compare( $harness_wpversion, '6.3', '>=' ) ) {
		if ( ! is_array( $args ) ) {
			$args = array( 'in_footer' => (bool) $args );
		}
	} else {
		// Before 6.3 the fifth parameter was bool $in_footer.
		$args = array( 'in_footer' => (bool) $args );
	}
	$harness_scripts[ $handle ] = array(
		'src'      => $src,
		'ver'      => $ver,
		'deps'     => $deps,
		'footer'   => ! empty( $args['in_footer'] ),
		'strategy' => isset( $args['strategy'] ) ? $args['strategy'] : '',
	);
}

/**
 * One script's tag as WP_Scripts::do_item() builds it, filtered.
 */
function harness_script_tag( $handle, $script ) {
	global $harness_wpversion;
	$src = $script['src'];
	if ( null !== $script['ver'] ) {
		$ver  = $script['ver'] ? $script['ver'] : $harness_wpversion;
		$src .= ( false === strpos( $src, '?' ) ? '?' : '&' ) . 'ver=' . rawurlencode( $ver );
	}
	$src = esc_url( $src );
	if ( version_compare( $harness_wpversion, '6.3', '>=' ) ) {
		$tag = sprintf( '<script src="%s" id="%s"', esc_attr( $src ), esc_attr( $handle . '-js' ) );
		if ( in_array( $script['strategy'], array( 'defer', 'async' ), true ) ) {
			$tag .= sprintf( ' %1$s data-wp-strategy="%1$s"', $script['strategy'] );
		}
		$tag .= "></script>\n";
	} else {
		$tag = "<script src='$src' id='$handle-js'></script>\n";
	}
	return apply_filters( 'script_loader_tag', $tag, $handle, $src );
}

require dirname( __DIR__ ) . '/carechat/carechat.php';

// A public page: wp_head fires wp_enqueue_scripts, then prints the head
// group; wp_footer prints the footer group.
do_action( 'wp_enqueue_scripts' );
foreach ( array( 'head' => false, 'footer' => true ) as $harness_group => $harness_footer ) {
	foreach ( $harness_scripts as $harness_handle => $harness_script ) {
		if ( $harness_script['footer'] === $harness_footer ) {
			echo $harness_group . ': ' . harness_script_tag( $harness_handle, $harness_script ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
		}
	}
}
