<?php
/**
 * Plugin Name:       Carechat
 * Description:       Adds your clinic's Carechat patient chat widget to every page of your site. The widget loads from your own Carechat server; no chat passes through WordPress.
 * Version:           1.0.0
 * Requires at least: 6.0
 * Requires PHP:      7.4
 * Author:            Carechat
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       carechat
 *
 * @package Carechat
 */

/*
 * This plugin only adds one script tag, pointing at the clinic's Carechat
 * server, to the public pages. Patients' messages go from their browser
 * straight to that server; WordPress never sees them.
 */

defined( 'ABSPATH' ) || exit;

/** The option that holds every setting, as one array. */
const CARECHAT_OPTION = 'carechat_options';

/** The handle of the widget's script. */
const CARECHAT_HANDLE = 'carechat-widget';

/** The widget's own default colour (console/assets/widget.js). */
const CARECHAT_DEFAULT_COLOR = '#0f766e';

/**
 * The settings a fresh install starts with.
 *
 * @return array
 */
function carechat_defaults() {
	return array(
		'server_url' => '',
		'clinic'     => '',
		'color'      => CARECHAT_DEFAULT_COLOR,
		'state'      => '',
		'lang'       => '',
		'enabled'    => false,
	);
}

/**
 * The stored settings, completed with the defaults; unknown keys are dropped.
 *
 * @return array
 */
function carechat_get_options() {
	$saved = get_option( CARECHAT_OPTION, array() );
	if ( ! is_array( $saved ) ) {
		$saved = array();
	}
	$defaults = carechat_defaults();
	return array_merge( $defaults, array_intersect_key( $saved, $defaults ) );
}

/**
 * The Carechat server's base URL (scheme, host and port) when $url is one
 * the widget can load from, else ''.
 *
 * HTTPS anywhere; plain HTTP only on this machine, for testing. The widget
 * connects back to the host it was loaded from (at /ws/patient), so a path,
 * query or fragment would be lost: they are refused too.
 *
 * @param mixed $url The URL to check.
 * @return string
 */
function carechat_normalize_server_url( $url ) {
	if ( ! is_string( $url ) || '' === $url ) {
		return '';
	}
	$parts = wp_parse_url( $url );
	if ( ! is_array( $parts ) || empty( $parts['scheme'] ) || empty( $parts['host'] ) ) {
		return '';
	}
	$scheme = strtolower( $parts['scheme'] );
	$host   = strtolower( $parts['host'] );
	$local  = in_array( $host, array( 'localhost', '127.0.0.1' ), true );
	if ( 'https' !== $scheme && ! ( 'http' === $scheme && $local ) ) {
		return '';
	}
	if ( isset( $parts['user'] ) || isset( $parts['pass'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
		return '';
	}
	if ( isset( $parts['path'] ) && '' !== $parts['path'] && '/' !== $parts['path'] ) {
		return '';
	}
	if ( ! preg_match( '/^[a-z0-9.-]+$/', $host ) ) {
		return '';
	}
	$port = isset( $parts['port'] ) ? ':' . (int) $parts['port'] : '';
	return $scheme . '://' . $host . $port;
}

/**
 * $color as lowercase #rrggbb, or '' when it is not one.
 *
 * @param mixed $color The colour to check.
 * @return string
 */
function carechat_normalize_color( $color ) {
	if ( ! is_string( $color ) ) {
		return '';
	}
	$color = sanitize_hex_color( trim( $color ) );
	if ( ! is_string( $color ) || 7 !== strlen( $color ) ) {
		return '';
	}
	return strtolower( $color );
}

/**
 * A US state's two-letter code in capitals (e.g. NY), or '' when $state is
 * not two letters.
 *
 * @param mixed $state The code to check.
 * @return string
 */
function carechat_normalize_state( $state ) {
	if ( ! is_string( $state ) ) {
		return '';
	}
	$state = strtoupper( trim( $state ) );
	return preg_match( '/^[A-Z]{2}$/', $state ) ? $state : '';
}

/**
 * A language tag such as es or es-MX, or '' when $lang is not one.
 *
 * @param mixed $lang The tag to check.
 * @return string
 */
function carechat_normalize_lang( $lang ) {
	if ( ! is_string( $lang ) ) {
		return '';
	}
	$lang = trim( $lang );
	return preg_match( '/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/', $lang ) ? $lang : '';
}

/*
 * Front end.
 */

/**
 * Enqueues the widget from the Carechat server, on public pages only, when
 * it is enabled and the server URL is valid.
 */
function carechat_enqueue_widget() {
	if ( is_admin() ) {
		return;
	}
	$options = carechat_get_options();
	$server  = carechat_normalize_server_url( $options['server_url'] );
	if ( empty( $options['enabled'] ) || '' === $server ) {
		return;
	}
	// WordPress 6.3 added loading strategies; before it, the fifth argument
	// is only "in footer".
	$in_footer = true;
	if ( version_compare( get_bloginfo( 'version' ), '6.3', '>=' ) ) {
		$in_footer = array(
			'in_footer' => true,
			'strategy'  => 'defer',
		);
	}
	// No version: the Carechat server serves and updates widget.js itself,
	// and the widget finds its own tag by a src ending in /widget.js.
	// phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion
	wp_enqueue_script( CARECHAT_HANDLE, $server . '/widget.js', array(), null, $in_footer );
}
add_action( 'wp_enqueue_scripts', 'carechat_enqueue_widget' );

/**
 * Adds the widget's data- attributes (the only settings it reads) to its
 * script tag.
 *
 * @param string $tag    The script tag(s) WordPress is about to print.
 * @param string $handle The script's handle.
 * @return string
 */
function carechat_script_loader_tag( $tag, $handle ) {
	if ( CARECHAT_HANDLE !== $handle || is_admin() ) {
		return $tag;
	}
	$options = carechat_get_options();
	$color   = carechat_normalize_color( $options['color'] );
	$data    = array(
		'data-clinic' => esc_attr( is_string( $options['clinic'] ) ? $options['clinic'] : '' ),
		'data-color'  => esc_attr( '' !== $color ? $color : CARECHAT_DEFAULT_COLOR ),
		'data-state'  => esc_attr( carechat_normalize_state( $options['state'] ) ),
		'data-lang'   => esc_attr( carechat_normalize_lang( $options['lang'] ) ),
	);
	$attributes = '';
	foreach ( $data as $name => $value ) {
		// An absent attribute lets the widget choose: "Chat" for the name,
		// the browser's language, no state routing.
		if ( '' !== $value ) {
			$attributes .= ' ' . $name . '="' . $value . '"';
		}
	}
	// The first tag with a src is the widget's; inline scripts another
	// plugin attached to the handle have none.
	$result = preg_replace_callback(
		'/<script(?=\s[^>]*\bsrc=)/i',
		static function () use ( $attributes ) {
			return '<script' . $attributes;
		},
		$tag,
		1
	);
	return is_string( $result ) ? $result : $tag;
}
add_filter( 'script_loader_tag', 'carechat_script_loader_tag', 10, 2 );

/*
 * Administration.
 */

/**
 * Adds Settings → Carechat.
 */
function carechat_admin_menu() {
	add_options_page(
		__( 'Carechat', 'carechat' ),
		__( 'Carechat', 'carechat' ),
		'manage_options',
		'carechat',
		'carechat_render_settings_page'
	);
}
add_action( 'admin_menu', 'carechat_admin_menu' );

/**
 * Registers the option, its section and its fields.
 */
function carechat_register_settings() {
	register_setting(
		'carechat',
		CARECHAT_OPTION,
		array(
			'type'              => 'array',
			'sanitize_callback' => 'carechat_sanitize_options',
			'default'           => carechat_defaults(),
			'show_in_rest'      => false,
		)
	);

	add_settings_section(
		'carechat_widget',
		__( 'Chat widget', 'carechat' ),
		'carechat_render_section',
		'carechat'
	);

	$fields = array(
		'enabled'    => array(
			'title'       => __( 'Show the widget', 'carechat' ),
			'type'        => 'checkbox',
			'label'       => __( 'Show the chat widget on every public page', 'carechat' ),
			'description' => __( 'It only appears once a valid server URL is saved too.', 'carechat' ),
		),
		'server_url' => array(
			'title'       => __( 'Carechat server URL', 'carechat' ),
			'type'        => 'url',
			'placeholder' => 'https://chat.example-clinic.com',
			'description' => __( 'The address of your Carechat server, starting with https:// (http:// only for localhost or 127.0.0.1, when testing). The widget loads from /widget.js there.', 'carechat' ),
		),
		'clinic'     => array(
			'title'       => __( 'Clinic name', 'carechat' ),
			'type'        => 'text',
			'description' => __( 'Shown in the widget\'s header. Empty: "Chat".', 'carechat' ),
		),
		'color'      => array(
			'title'       => __( 'Brand colour', 'carechat' ),
			'type'        => 'color',
			'description' => __( 'The colour of the chat button and header, as #rrggbb.', 'carechat' ),
		),
		'state'      => array(
			'title'       => __( 'US state', 'carechat' ),
			'type'        => 'text',
			'placeholder' => 'NY',
			'pattern'     => '[A-Za-z]{2}',
			'maxlength'   => 2,
			'description' => __( 'Two letters, e.g. NY: chats from this site go only to clinicians licensed there. Leave empty until licences are recorded on the Carechat server.', 'carechat' ),
		),
		'lang'       => array(
			'title'       => __( 'Language', 'carechat' ),
			'type'        => 'text',
			'placeholder' => 'es',
			'maxlength'   => 35,
			'description' => __( 'The widget\'s language, e.g. es. Empty: each visitor\'s browser language.', 'carechat' ),
		),
	);
	foreach ( $fields as $key => $field ) {
		$field['key']       = $key;
		$field['label_for'] = 'carechat-' . $key;
		add_settings_field(
			'carechat_' . $key,
			$field['title'],
			'carechat_render_field',
			'carechat',
			'carechat_widget',
			$field
		);
	}
}
add_action( 'admin_init', 'carechat_register_settings' );

/**
 * Checks and cleans what the settings form sent. A value that does not pass
 * is reported and the saved one kept.
 *
 * @param mixed $input The submitted settings.
 * @return array
 */
function carechat_sanitize_options( $input ) {
	$current = carechat_get_options();
	if ( ! is_array( $input ) ) {
		return $current;
	}
	$clean = $current;

	$clean['enabled'] = ! empty( $input['enabled'] );

	if ( isset( $input['server_url'] ) ) {
		$raw = trim( (string) $input['server_url'] );
		$url = '' === $raw ? '' : carechat_normalize_server_url( esc_url_raw( $raw, array( 'https', 'http' ) ) );
		if ( '' === $raw || '' !== $url ) {
			$clean['server_url'] = $url;
		} else {
			add_settings_error(
				CARECHAT_OPTION,
				'carechat_server_url',
				__( 'The Carechat server URL must start with https:// and name only the server, e.g. https://chat.example-clinic.com (http:// is allowed only for localhost and 127.0.0.1). The previous URL was kept.', 'carechat' )
			);
		}
	}

	if ( isset( $input['clinic'] ) ) {
		$clean['clinic'] = sanitize_text_field( (string) $input['clinic'] );
	}

	if ( isset( $input['color'] ) ) {
		$color = carechat_normalize_color( (string) $input['color'] );
		if ( '' !== $color ) {
			$clean['color'] = $color;
		} else {
			add_settings_error(
				CARECHAT_OPTION,
				'carechat_color',
				__( 'The brand colour must be written #rrggbb, e.g. #0f766e. The previous colour was kept.', 'carechat' )
			);
		}
	}

	if ( isset( $input['state'] ) ) {
		$raw   = trim( (string) $input['state'] );
		$state = carechat_normalize_state( $raw );
		if ( '' === $raw || '' !== $state ) {
			$clean['state'] = $state;
		} else {
			add_settings_error(
				CARECHAT_OPTION,
				'carechat_state',
				__( 'The US state must be a two-letter code such as NY, or empty. The previous state was kept.', 'carechat' )
			);
		}
	}

	if ( isset( $input['lang'] ) ) {
		$raw  = trim( (string) $input['lang'] );
		$lang = carechat_normalize_lang( $raw );
		if ( '' === $raw || '' !== $lang ) {
			$clean['lang'] = $lang;
		} else {
			add_settings_error(
				CARECHAT_OPTION,
				'carechat_lang',
				__( 'The language must be a language code such as es or es-MX, or empty. The previous language was kept.', 'carechat' )
			);
		}
	}

	return $clean;
}

/**
 * The text above the fields.
 */
function carechat_render_section() {
	$options = carechat_get_options();
	$server  = carechat_normalize_server_url( $options['server_url'] );
	echo '<p>' . esc_html__( 'The widget is served by your Carechat server and talks only to it: patients\' messages never pass through WordPress, which only adds the script tag to your pages.', 'carechat' ) . '</p>';
	if ( ! empty( $options['enabled'] ) && '' !== $server ) {
		/* translators: %s: the widget's address. */
		$status = sprintf( __( 'The widget is on: public pages load %s.', 'carechat' ), $server . '/widget.js' );
	} elseif ( ! empty( $options['enabled'] ) ) {
		$status = __( 'The widget is off until a valid server URL is saved.', 'carechat' );
	} else {
		$status = __( 'The widget is off.', 'carechat' );
	}
	echo '<p><strong>' . esc_html( $status ) . '</strong></p>';
}

/**
 * One field of the settings form.
 *
 * @param array $args The field's description from carechat_register_settings().
 */
function carechat_render_field( $args ) {
	$options = carechat_get_options();
	$key     = $args['key'];
	$id      = $args['label_for'];
	$name    = CARECHAT_OPTION . '[' . $key . ']';

	if ( 'checkbox' === $args['type'] ) {
		printf(
			'<label for="%1$s"><input type="checkbox" id="%1$s" name="%2$s" value="1"%3$s /> %4$s</label>',
			esc_attr( $id ),
			esc_attr( $name ),
			checked( ! empty( $options[ $key ] ), true, false ),
			esc_html( $args['label'] )
		);
	} else {
		$value = (string) $options[ $key ];
		if ( 'color' === $args['type'] && '' === carechat_normalize_color( $value ) ) {
			$value = CARECHAT_DEFAULT_COLOR;
		}
		$extra = 'color' === $args['type'] ? '' : ' class="regular-text"';
		foreach ( array( 'placeholder', 'pattern', 'maxlength' ) as $attribute ) {
			if ( isset( $args[ $attribute ] ) ) {
				$extra .= ' ' . $attribute . '="' . esc_attr( (string) $args[ $attribute ] ) . '"';
			}
		}
		printf(
			'<input type="%1$s" id="%2$s" name="%3$s" value="%4$s"%5$s />',
			esc_attr( $args['type'] ),
			esc_attr( $id ),
			esc_attr( $name ),
			esc_attr( $value ),
			$extra // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- each value escaped above.
		);
	}
	if ( ! empty( $args['description'] ) ) {
		echo '<p class="description">' . esc_html( $args['description'] ) . '</p>';
	}
}

/**
 * Settings → Carechat.
 */
function carechat_render_settings_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	?>
	<div class="wrap">
		<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
		<form action="options.php" method="post">
			<?php
			settings_fields( 'carechat' );
			do_settings_sections( 'carechat' );
			submit_button();
			?>
		</form>
	</div>
	<?php
}

/**
 * A "Settings" link beside Deactivate on the Plugins screen.
 *
 * @param array $links The plugin's action links.
 * @return array
 */
function carechat_action_links( $links ) {
	if ( current_user_can( 'manage_options' ) ) {
		array_unshift(
			$links,
			sprintf(
				'<a href="%s">%s</a>',
				esc_url( admin_url( 'options-general.php?page=carechat' ) ),
				esc_html__( 'Settings', 'carechat' )
			)
		);
	}
	return $links;
}
add_filter( 'plugin_action_links_' . plugin_basename( __FILE__ ), 'carechat_action_links' );

/**
 * Suggested text for the site's privacy policy (Settings → Privacy).
 */
function carechat_privacy_policy_content() {
	if ( ! function_exists( 'wp_add_privacy_policy_content' ) ) {
		return;
	}
	$text = '<p>' . esc_html__( 'This site offers a live chat provided by our own Carechat server. When you open the chat, your browser loads it from that server and sends your messages directly to it; this WordPress site does not receive or store them. The chat keeps a random identifier in your browser\'s storage, of which the server stores only a keyed hash, so that staff can block a browser that sends abuse; an open conversation is kept in the browser\'s session storage so that it continues across pages.', 'carechat' ) . '</p>';
	wp_add_privacy_policy_content( __( 'Carechat', 'carechat' ), wp_kses_post( $text ) );
}
add_action( 'admin_init', 'carechat_privacy_policy_content' );
